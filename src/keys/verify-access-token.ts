// Verifies one of our own RFC 9068 access tokens: ES256 only (no "none", no HS256 with a public key),
// typ at+jwt, our issuer, unexpired, signed by a published key. Returns undefined for any token problem.
import { errors as joseErrors, type JWTPayload, jwtVerify } from 'jose'
import type { Clock } from '../lib/clock.ts'
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
  ring: KeyRing
  issuer: string
  clock: Clock
  clockTolerance: number
}

export async function verifyAccessToken(token: string, deps: VerifyDeps): Promise<OurAccessToken | undefined> {
  try {
    const { payload } = await jwtVerify(
      token,
      async (header) => {
        const key = header.kid === undefined ? undefined : await deps.ring.verificationKey(header.kid)
        if (!key) throw new joseErrors.JWKSNoMatchingKey()
        return key
      },
      {
        issuer: deps.issuer,
        typ: 'at+jwt',
        algorithms: [SIGNING_ALG],
        clockTolerance: deps.clockTolerance,
        currentDate: new Date(deps.clock.now() * 1000),
        requiredClaims: ['jti', 'sub', 'aud', 'client_id', 'exp', 'iat'],
      },
    )
    const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud]
    if (
      audiences.length === 0 ||
      audiences.some((aud) => typeof aud !== 'string') ||
      typeof payload.client_id !== 'string'
    ) {
      return undefined
    }
    return payload as OurAccessToken
  } catch (error) {
    if (error instanceof joseErrors.JOSEError) return undefined
    throw error // an outage while reading keys, or a bug: never treated as "invalid token"
  }
}
