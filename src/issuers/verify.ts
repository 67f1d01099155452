// Verifies a JWT from a trusted foreign issuer (RFC 8725): the issuer must be registered, the
// algorithm on its allow-list, the key from its JWKS, the audience its configured one. Undefined for
// any token problem; outages and bugs propagate.
import { decodeJwt, errors as joseErrors, type JWTPayload, jwtVerify } from 'jose'
import { DependencyUnavailable } from '../db/outage.ts'
import type { Clock } from '../lib/clock.ts'
import type { OutboundFetch } from '../outbound/fetch.ts'
import { keySetOf } from './key-sets.ts'
import type { IssuerRow } from './store.ts'

export interface ForeignToken {
  issuerName: string
  payload: JWTPayload & { sub: string; exp: number }
  typ: string | undefined
  /** The Issuer document's rule for tokens without a scope claim. */
  tokensWithoutScope: IssuerRow['tokens_without_scope']
}

export interface ForeignTokenDeps {
  /** The registered issuer whose `iss` this is (from the request's catalog). */
  findIssuer(iss: string): Promise<IssuerRow | undefined>
  clock: Clock
  clockTolerance: number
  /** Seconds: a token whose exp is further ahead than this is refused (a stolen token must not live for ever). */
  trustedTokenMaxLifetime: number
  /** The guarded fetch for remote key sets (no loopback, link-local or metadata addresses). */
  fetchOutbound: OutboundFetch
}

export async function verifyForeignToken(token: string, deps: ForeignTokenDeps): Promise<ForeignToken | undefined> {
  let iss: unknown
  try {
    iss = decodeJwt(token).iss
  } catch {
    return undefined
  }
  if (typeof iss !== 'string') return undefined
  const row = await deps.findIssuer(iss)
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
    if (!withinTimeBounds(payload, deps)) return undefined
    return {
      issuerName: row.name,
      payload: payload as ForeignToken['payload'],
      typ: protectedHeader.typ,
      tokensWithoutScope: row.tokens_without_scope,
    }
  } catch (error) {
    if (error instanceof joseErrors.JWKSTimeout)
      throw new DependencyUnavailable(`JWKS of issuer ${row.name}`, { cause: error })
    if (error instanceof joseErrors.JOSEError) return undefined
    throw new DependencyUnavailable(`JWKS of issuer ${row.name}`, { cause: error })
  }
}

/**
 * RFC 8725 §3.10 (do not trust received claims): exp no further ahead than the configured maximum, and
 * iat, when present, not in the future beyond the clock tolerance (jose checks iat only with maxTokenAge).
 */
function withinTimeBounds(payload: JWTPayload, deps: ForeignTokenDeps): boolean {
  const now = deps.clock.now()
  if (typeof payload.exp !== 'number' || payload.exp > now + deps.trustedTokenMaxLifetime + deps.clockTolerance)
    return false
  return payload.iat === undefined || (typeof payload.iat === 'number' && payload.iat <= now + deps.clockTolerance)
}
