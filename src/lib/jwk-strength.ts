// Whether a public JWK is strong enough to verify signatures here (RFC 8725 §3.5; NIST SP 800-57: RSA at
// least 2048 bits, NIST curves from P-256), and which JWS algorithms can use it. No I/O: the key is only
// parsed, so malformed keys (bad points, empty moduli) are refused too.
import { createPublicKey, type JsonWebKey } from 'node:crypto'
import * as z from 'zod'

const MIN_RSA_BITS = 2048
const EC_ALGORITHMS: Record<string, string> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }
const RSA_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']

/** Why this public key must not verify anything here, or undefined when it may. */
export function weakKeyProblem(jwk: Record<string, unknown>): string | undefined {
  const { kty, crv } = jwk
  if (kty === 'EC' && !Object.hasOwn(EC_ALGORITHMS, String(crv)))
    return `an EC key must use P-256, P-384 or P-521 (not ${String(crv)})`
  // jose verifies EdDSA with Ed25519 only; Ed448 would never verify and X25519 is not a signing key.
  if (kty === 'OKP' && crv !== 'Ed25519') return `an OKP key must be Ed25519 (not ${String(crv)})`
  let details: { modulusLength?: number; publicExponent?: bigint } | undefined
  try {
    details = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).asymmetricKeyDetails
  } catch {
    return 'not a valid public key'
  }
  if (kty === 'RSA') {
    const bits = details?.modulusLength ?? 0
    if (bits < MIN_RSA_BITS) return `an RSA key must have at least ${MIN_RSA_BITS} bits (this one has ${bits})`
    // RFC 8017 §3.1: the public exponent is odd and at least 3 (e = 1 makes signing a no-op).
    const e = details?.publicExponent ?? 0n
    if (e < 3n || e % 2n === 0n) return 'an RSA key must have an odd public exponent of at least 3'
  }
  return undefined
}

/** The JWS algorithms (RFC 7518 §3.1) that can verify with this key's type and curve. */
export function algorithmsFor(jwk: Record<string, unknown>): string[] {
  if (jwk.kty === 'RSA') return RSA_ALGORITHMS
  if (jwk.kty === 'EC')
    return Object.hasOwn(EC_ALGORITHMS, String(jwk.crv)) ? [EC_ALGORITHMS[String(jwk.crv)] as string] : []
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return ['EdDSA']
  return []
}

/** The zod check documents put on each public JWK (Client and Issuer `jwks`). */
export const strongKey = z.superRefine<Record<string, unknown>>((jwk, ctx) => {
  const problem = weakKeyProblem(jwk)
  if (problem) ctx.addIssue({ code: 'custom', message: problem, input: jwk })
})
