// The two behaviours of oidc-provider we replace on its own classes (docs/decisions/0006): a hashed
// client secret check, and an atomic replay store. Each is one assignment, reread on every upgrade.
import type { Kysely } from 'kysely'
import type { Client, Provider } from 'oidc-provider'
import { verifySecret } from '../clients/secret-hash.ts'
import type { DB } from '../db/schema.ts'
import { PROOF_WINDOW } from '../dpop/proof.ts'
import { type Clock, toDate } from '../lib/clock.ts'
import { claimOnce } from '../replay/claim-once.ts'
import { failClosed } from './errors.ts'

/** Client secrets are stored hashed; oidc-provider's constant-time comparison becomes a hash check. */
export function hashedClientSecrets(provider: Provider): void {
  ;(
    provider.Client.prototype as unknown as { compareClientSecret(actual: string): Promise<boolean> }
  ).compareClientSecret = function compareClientSecret(this: Client, actual: string) {
    return typeof this.clientSecret === 'string' ? verifySecret(actual, this.clientSecret) : Promise.resolve(false)
  }
}

/**
 * RFC 7523 §3, RFC 9449 §11.1: one atomic claim per jti across processes (oidc-provider's own
 * ReplayDetection.unique is find-then-save, so concurrent requests could all pass).
 * oidc-provider claims a DPoP proof until now + 300 s whatever its iat, while a proof issued up to 300 s
 * ahead is still fresh until iat + 300 s: every claim is held one proof window longer, so none lapses
 * while its value could still be accepted (harmless for client assertions, which carry their own exp).
 */
export function atomicReplayDetection(provider: Provider, deps: { db: Kysely<DB>; clock: Clock }): void {
  provider.ReplayDetection.unique = (iss: string, jti: string, exp: number) =>
    failClosed(() => claimOnce(deps.db, [iss], jti, toDate(exp + PROOF_WINDOW + 1), toDate(deps.clock.now())))
}
