// Verifies one of our own RFC 9068 access tokens: ES256 only (no "none", no HS256 with a public key),
// typ at+jwt, our issuer, unexpired, signed by a published key. Returns undefined for any token problem.
// Synchronous node:crypto rather than jose's WebCrypto path, which used 1.2–1.4× the CPU (bench/verify-micro.ts).
import { verify } from 'node:crypto'
import type { JWTPayload } from 'jose'
import type { Clock } from '../lib/clock.ts'
import { parseCompactJws, parseJsonObject } from './compact-jws.ts'
import type { KeyRing } from './ring.ts'
import { SIGNING_ALG } from './store.ts'

export interface OurAccessToken extends JWTPayload {
  jti: string
  sub: string
  aud: string | string[]
  client_id: string
  exp: number
  iat: number
  scope?: string
}

export interface VerifyDeps {
  ring: Pick<KeyRing, 'verificationKey'>
  issuer: string
  clock: Clock
  clockTolerance: number
}

// RFC 7518 §3.4: an ES256 signature is R || S, 32 octets each.
const ES256_SIGNATURE_BYTES = 64
const REQUIRED_CLAIMS = ['iss', 'jti', 'sub', 'aud', 'client_id', 'exp', 'iat'] as const

export async function verifyAccessToken(token: string, deps: VerifyDeps): Promise<OurAccessToken | undefined> {
  const jws = parseCompactJws(token)
  if (!jws || !isOurHeader(jws.header) || jws.signature.length !== ES256_SIGNATURE_BYTES) return undefined
  // An outage while reading keys throws: it is never treated as "invalid token".
  const key = await deps.ring.verificationKey(jws.header.kid)
  if (!key) return undefined
  if (!verify('sha256', jws.signingInput, { key, dsaEncoding: 'ieee-p1363' }, jws.signature)) return undefined
  const claims = parseJsonObject(jws.payload)
  return claims && hasOurClaims(jws.header, claims, deps) ? (claims as OurAccessToken) : undefined
}

// RFC 7515 §4.1.11: we understand no extension, so a token naming any "crit" parameter is refused.
const isOurHeader = (header: Record<string, unknown>): header is { alg: string; kid: string } =>
  header.alg === SIGNING_ALG && typeof header.kid === 'string' && header.crit === undefined

// RFC 7515 §4.1.9: media types compare case-insensitively and "application/" may be left out.
const mediaType = (typ: string) => (typ.includes('/') ? typ : `application/${typ}`).toLowerCase()

function hasOurClaims(header: Record<string, unknown>, claims: Record<string, unknown>, deps: VerifyDeps): boolean {
  // RFC 9068 §4: typ at+jwt. RFC 7519 §4.1.4–4.1.5: exp and nbf, each with the clock tolerance.
  const now = deps.clock.now()
  const { iat, nbf, exp, aud } = claims
  const audiences = Array.isArray(aud) ? aud : [aud]
  return (
    typeof header.typ === 'string' &&
    mediaType(header.typ) === 'application/at+jwt' &&
    REQUIRED_CLAIMS.every((claim) => Object.hasOwn(claims, claim)) &&
    claims.iss === deps.issuer &&
    typeof iat === 'number' &&
    (nbf === undefined || (typeof nbf === 'number' && nbf <= now + deps.clockTolerance)) &&
    typeof exp === 'number' &&
    exp > now - deps.clockTolerance &&
    audiences.length > 0 &&
    audiences.every((audience) => typeof audience === 'string') &&
    typeof claims.client_id === 'string'
  )
}
