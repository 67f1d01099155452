// RFC 9449 §8: DPoP nonces, stateless (HMAC of the time window) and derived from the master key, so
// every process issues and accepts the same ones. oidc-provider's own challenge class is used, so a
// nonce from /token (client_credentials) is good at the exchange, the tasks API and the admin API.
import { createHash } from 'node:crypto'
import ServerChallenge from 'oidc-provider/lib/helpers/challenge.js'
import type { Nonces } from '../dpop/proof.ts'

/** The 32-byte secret oidc-provider's features.dPoP.nonceSecret takes. */
export const dpopNonceSecret = (masterKeys: readonly Buffer[]): Buffer =>
  createHash('sha256')
    .update('mandate dpop nonce')
    .update(masterKeys[0] ?? Buffer.alloc(0))
    .digest()

/** The same challenge oidc-provider builds from features.dPoP.nonceSecret (info 'DPoP'). */
export const dpopNonces = (secret: Buffer): Nonces => new ServerChallenge(secret, 'DPoP')
