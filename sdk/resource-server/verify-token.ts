// RFC 9068 §4 validation of Mandate's JWT access tokens: signature by a key of the issuer's JWKS
// (jose's remote key set, found through the RFC 8414 metadata), typ at+jwt, iss exact, aud naming this
// resource, exp with a small tolerance, and the §2.2 claims present. An unreachable issuer is an outage.
import { createRemoteJWKSet, customFetch, errors, type JWTPayload, jwtVerify } from 'jose'
import { type Discovered, discover } from './discovery.ts'
import { type FetchLike, Unavailable } from './fetch.ts'

/** Claims of a verified Mandate access token (RFC 9068 §2.2 and Mandate's own). */
export interface AccessTokenClaims extends JWTPayload {
  iss: string
  sub: string
  aud: string | string[]
  exp: number
  iat: number
  jti: string
  client_id: string
  scope?: string
  /** RFC 8693 §4.1: the delegation chain, innermost actor last. */
  act?: { sub: string; act?: AccessTokenClaims['act'] }
  task_id?: string
  policy_path?: string
  policy_version?: number
  /** RFC 9449 §6.1: the key a DPoP-bound token is bound to. */
  cnf?: { jkt?: string }
}

export type TokenCheck =
  | { ok: true; claims: AccessTokenClaims }
  | { ok: false; problem: 'invalid' | 'expired' | 'audience' }
  | { ok: false; problem: 'unavailable'; cause: unknown }

export interface VerifierOptions {
  issuer: string
  resource: string
  algorithms: readonly string[]
  clockTolerance: number
  fetch: FetchLike
  timeoutMs: number
}

// RFC 9068 §2.2: iss and aud are checked by value below; these must be present.
const REQUIRED = ['exp', 'iat', 'jti', 'sub', 'client_id']

export function tokenVerifier(options: VerifierOptions): (token: string) => Promise<TokenCheck> {
  const keys = keySource(options)
  return async (token) => {
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: options.issuer,
        audience: options.resource,
        // jose compares typ case-insensitively with "application/" optional (RFC 7515 §4.1.9).
        typ: 'at+jwt',
        algorithms: [...options.algorithms],
        clockTolerance: options.clockTolerance,
        requiredClaims: REQUIRED,
      })
      return hasClaimTypes(payload) ? { ok: true, claims: payload } : { ok: false, problem: 'invalid' }
    } catch (error) {
      if (error instanceof Unavailable) return { ok: false, problem: 'unavailable', cause: error.cause }
      if (error instanceof errors.JWTExpired) return { ok: false, problem: 'expired' }
      if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'aud') {
        return { ok: false, problem: 'audience' }
      }
      if (error instanceof errors.JOSEError) return { ok: false, problem: 'invalid' }
      throw error // a bug is never dressed up as a token problem
    }
  }
}

function hasClaimTypes(payload: JWTPayload): payload is AccessTokenClaims {
  const { sub, jti, client_id, scope, cnf } = payload as Record<string, unknown>
  const cnfOk = cnf === undefined || (typeof cnf === 'object' && cnf !== null && isJktOk(cnf))
  return (
    typeof sub === 'string' &&
    typeof jti === 'string' &&
    typeof client_id === 'string' &&
    (scope === undefined || typeof scope === 'string') &&
    cnfOk
  )
}

const isJktOk = (cnf: object) => !('jkt' in cnf) || typeof cnf.jkt === 'string'

/** jose's remote key set at the metadata's jwks_uri; a failure to reach either is Unavailable. */
function keySource(options: VerifierOptions) {
  let current: (Discovered & { keys: ReturnType<typeof createRemoteJWKSet> }) | undefined
  let pending: Promise<Discovered> | undefined
  const remoteKeys = async () => {
    if (current && current.until > Date.now()) return current.keys
    pending ??= discover(options.issuer, options.fetch, options.timeoutMs).finally(() => {
      pending = undefined
    })
    try {
      const found = await pending
      if (current?.jwksUri === found.jwksUri) current.until = found.until
      else current = { ...found, keys: remoteKeySet(found.jwksUri, options) }
    } catch (error) {
      // Keep using a known jwks_uri while the metadata cannot be read again; with none, fail closed.
      if (!current) throw new Unavailable('authorization server metadata unavailable', { cause: error })
    }
    return current.keys
  }
  return async (...args: Parameters<ReturnType<typeof createRemoteJWKSet>>) => {
    const keys = await remoteKeys()
    try {
      return await keys(...args)
    } catch (error) {
      // No key for this token's kid is the token's problem; anything else is reaching the keys.
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error
      throw new Unavailable('JWKS unavailable', { cause: error })
    }
  }
}

function remoteKeySet(jwksUri: string, options: VerifierOptions) {
  return createRemoteJWKSet(new URL(jwksUri), {
    timeoutDuration: options.timeoutMs,
    // Mandate publishes its JWKS with max-age=60 and publishes a key before it signs with it: keys
    // are re-read every minute, and at once (after jose's 30 s cooldown) when a token names an unknown kid.
    cacheMaxAge: 60_000,
    [customFetch]: (url, init) => options.fetch(url, init),
  })
}
