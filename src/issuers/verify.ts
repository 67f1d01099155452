// Verifies a JWT from a trusted foreign issuer (RFC 8725): the issuer must be registered, the
// algorithm on its allow-list, the key from its JWKS, the audience its configured one. Undefined for
// any token problem; outages and bugs propagate.
import { decodeJwt, errors as joseErrors, type JWTPayload, jwtVerify } from 'jose'
import type { Kysely } from 'kysely'
import { DependencyUnavailable } from '../db/outage.ts'
import type { DB } from '../db/schema.ts'
import type { Clock } from '../lib/clock.ts'
import type { OutboundFetch } from '../outbound/fetch.ts'
import { keySetOf } from './key-sets.ts'
import { findIssuerByIss } from './store.ts'

export interface ForeignToken {
  issuerName: string
  payload: JWTPayload & { sub: string; exp: number }
  typ: string | undefined
}

export async function verifyForeignToken(
  token: string,
  deps: { db: Kysely<DB>; clock: Clock; clockTolerance: number; fetchOutbound: OutboundFetch },
): Promise<ForeignToken | undefined> {
  let iss: unknown
  try {
    iss = decodeJwt(token).iss
  } catch {
    return undefined
  }
  if (typeof iss !== 'string') return undefined
  const row = await findIssuerByIss(deps.db, iss)
  if (!row) return undefined
  try {
    const { payload, protectedHeader } = await jwtVerify(token, keySetOf(row, deps.fetchOutbound), {
      issuer: row.issuer,
      algorithms: row.algorithms,
      ...(row.audience ? { audience: row.audience } : {}),
      clockTolerance: deps.clockTolerance,
      currentDate: new Date(deps.clock.now() * 1000),
      requiredClaims: ['sub', 'exp'],
    })
    return { issuerName: row.name, payload: payload as ForeignToken['payload'], typ: protectedHeader.typ }
  } catch (error) {
    if (error instanceof joseErrors.JWKSTimeout)
      throw new DependencyUnavailable(`JWKS of issuer ${row.name}`, { cause: error })
    if (error instanceof joseErrors.JOSEError) return undefined
    throw new DependencyUnavailable(`JWKS of issuer ${row.name}`, { cause: error })
  }
}
