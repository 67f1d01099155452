// RFC 9449 §4.2 proofs for the tasks API, which oauth4webapi has no request for: the agent's DPoP key
// proves itself at POST /tasks as at /token, and the nonce Mandate sends back (§8) is kept for the next one.
import { exportJWK, type JWK, SignJWT } from 'jose'
import type { CryptoKey, CryptoKeyPair } from 'oauth4webapi'

export interface ProofSigner {
  proof(method: string, url: URL): Promise<string>
  /** Keeps the DPoP-Nonce of an answer (Mandate's nonces are good at every endpoint and process). */
  remember(response: Response): void
}

export function proofSigner(keys: CryptoKeyPair): ProofSigner {
  const alg = algorithmOf(keys.privateKey)
  let jwk: Promise<JWK> | undefined
  let nonce: string | undefined
  return {
    async proof(method, url) {
      // jose exports a public key's public members only.
      jwk ??= exportJWK(keys.publicKey)
      return new SignJWT({ htm: method, htu: `${url.origin}${url.pathname}`, ...(nonce ? { nonce } : {}) })
        .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk: await jwk })
        .setIssuedAt()
        .setJti(crypto.randomUUID())
        .sign(keys.privateKey)
    },
    remember(response) {
      nonce = response.headers.get('dpop-nonce') ?? nonce
    },
  }
}

/** The JWS algorithm of a WebCrypto key, among those Mandate accepts for proofs. */
function algorithmOf(key: CryptoKey): string {
  const algorithm = key.algorithm as { name: string; namedCurve?: string; hash?: { name: string } }
  if (algorithm.name === 'ECDSA' && algorithm.namedCurve === 'P-256') return 'ES256'
  if (algorithm.name === 'ECDSA' && algorithm.namedCurve === 'P-384') return 'ES384'
  if (algorithm.name === 'Ed25519') return 'Ed25519'
  if (algorithm.name === 'RSA-PSS' && algorithm.hash?.name === 'SHA-256') return 'PS256'
  if (algorithm.name === 'RSASSA-PKCS1-v1_5' && algorithm.hash?.name === 'SHA-256') return 'RS256'
  throw new TypeError(`mandateAgent: a DPoP key must be ES256, ES384, Ed25519, PS256 or RS256 (got ${algorithm.name})`)
}
