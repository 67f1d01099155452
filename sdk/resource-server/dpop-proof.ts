// RFC 9449 §7.1 at a resource: the DPoP proof that must come with a DPoP-bound token. Checks §4.3
// (one header, typ, asymmetric alg, signature by the embedded key, htm, htu without query and fragment,
// a fresh iat), ath naming this token, the key's thumbprint equal to the token's cnf.jkt, and the jti
// seen once (§11.1, in this process: see docs/resource-server-helper.md). No server nonces.
import { createHash } from 'node:crypto'
import { calculateJwkThumbprint, EmbeddedJWK, type JWK, jwtVerify } from 'jose'
import { ExpiringLru } from './lru.ts'

/** RFC 9449 §5.1: what Mandate itself accepts (src/dpop/proof.ts), asymmetric only. */
export const DPOP_ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'Ed25519', 'PS256', 'RS256'] as const

export interface ProofInput {
  header: string | string[] | undefined
  method: string
  url: string
  token: string
  jkt: string
  now: number
}

export type ProofCheck = { ok: true } | { ok: false; problem: 'missing' | 'invalid' }

export function proofVerifier(options: {
  window: number
  replaySize: number
}): (input: ProofInput) => Promise<ProofCheck> {
  const seen = new ExpiringLru<true>(options.replaySize)
  const invalid: ProofCheck = { ok: false, problem: 'invalid' }
  return async (input) => {
    const { header } = input
    if (header === undefined || header === '') return { ok: false, problem: 'missing' }
    if (Array.isArray(header) || header.includes(',')) return invalid // §4.3 check 1: exactly one
    let payload: Record<string, unknown>
    let jwk: JWK
    try {
      const verified = await jwtVerify(header, EmbeddedJWK, {
        typ: 'dpop+jwt',
        algorithms: [...DPOP_ALGORITHMS],
        currentDate: new Date(input.now * 1000),
      })
      payload = verified.payload as Record<string, unknown>
      jwk = verified.protectedHeader.jwk as JWK
    } catch {
      return invalid // whatever broke (jose's checks or WebCrypto refusing the key), the proof is bad
    }
    const { jti, iat, htm, htu, ath } = payload
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) return invalid
    if (typeof iat !== 'number' || Math.abs(input.now - iat) > options.window) return invalid
    if (htm !== input.method || typeof htu !== 'string' || withoutQuery(htu) !== withoutQuery(input.url)) {
      return invalid
    }
    // §4.2: ath is the base64url SHA-256 of the token's ASCII value.
    if (ath !== createHash('sha256').update(input.token).digest('base64url')) return invalid
    if ((await calculateJwkThumbprint(jwk, 'sha256').catch(() => undefined)) !== input.jkt) return invalid
    const key = `${input.jkt} ${jti}`
    if (seen.get(key, input.now)) return invalid
    // Kept until the proof is too old to pass the iat check anyway.
    seen.set(key, true, iat + options.window + 1)
    return { ok: true }
  }
}

/** §4.3 check 9: query and fragment ignored; the URL parser normalises scheme, host case and default port. */
function withoutQuery(url: string): string | undefined {
  const parsed = URL.parse(url)
  if (!parsed) return undefined
  parsed.search = ''
  parsed.hash = ''
  return parsed.href
}
