// Client authentication for our own endpoints (the tasks API), exactly as at the token endpoint:
// client_secret_basic, client_secret_post or private_key_jwt (RFC 7523 §3), one method per request
// (RFC 6749 §2.3), the method the client is registered for, and no replayed assertion.
import { createLocalJWKSet, decodeJwt, errors as joseErrors, type JSONWebKeySet, jwtVerify } from 'jose'
import type { Clock } from '../lib/clock.ts'
import { verifySecret } from './secret-hash.ts'
import type { ClientRow } from './store.ts'

const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

/** RFC 7523 §3: the algorithms a private_key_jwt assertion may be signed with, here and at /token. */
export const CLIENT_ASSERTION_ALGORITHMS = [
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'EdDSA',
] as const

export class ClientAuthError extends Error {
  override name = 'ClientAuthError'
  /** invalid_request for a malformed attempt, invalid_client (401) for a failed one. */
  readonly error: 'invalid_request' | 'invalid_client'
  readonly basic: boolean
  constructor(error: 'invalid_request' | 'invalid_client', message: string, basic = false) {
    super(message)
    this.error = error
    this.basic = basic
  }
}

export interface AuthenticateDeps {
  /** The client, unless it is unknown or disabled (from the request's catalog). */
  findEnabledClient(clientId: string): Promise<ClientRow | undefined>
  clock: Clock
  clockTolerance: number
  /** Audiences a client assertion may name: the issuer and this endpoint's URL. */
  audiences: string[]
  /** The one replay store (atomic), so one assertion cannot be spent at /token and here too. */
  replayUnique(iss: string, jti: string, exp: number): Promise<boolean>
}

const failed = (basic = false) => new ClientAuthError('invalid_client', 'client authentication failed', basic)
const text = (value: unknown) => (typeof value === 'string' && value.length > 0 ? value : undefined)

export async function authenticateClient(
  authorization: string | undefined,
  params: Record<string, unknown>,
  deps: AuthenticateDeps,
): Promise<ClientRow> {
  const assertion = text(params.client_assertion)
  const postSecret = text(params.client_secret)
  const used = [authorization, assertion, postSecret].filter(Boolean).length
  if (used > 1)
    throw new ClientAuthError('invalid_request', 'client authentication must only be provided using one mechanism')
  // RFC 6749 §5.2: "no client authentication included" is invalid_client (401), as at the token endpoint.
  if (used === 0) throw failed()

  if (authorization !== undefined) {
    const [scheme, value] = authorization.split(' ')
    if (scheme?.toLowerCase() !== 'basic' || !value)
      throw new ClientAuthError('invalid_request', 'invalid authorization header value format')
    const decoded = Buffer.from(value, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon < 1) throw new ClientAuthError('invalid_request', 'invalid authorization header value format')
    // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    const decode = (part: string) => {
      try {
        return decodeURIComponent(part.replace(/\+/g, ' '))
      } catch {
        throw new ClientAuthError(
          'invalid_request',
          'client_id and client_secret in the authorization header are not properly encoded',
        )
      }
    }
    return bySecret(decode(decoded.slice(0, colon)), decode(decoded.slice(colon + 1)), deps, true)
  }
  if (postSecret !== undefined) {
    const id = text(params.client_id)
    if (!id) throw new ClientAuthError('invalid_request', 'client_id is required with client_secret')
    return bySecret(id, postSecret, deps, false)
  }
  return byAssertion(assertion as string, params, deps)
}

async function bySecret(id: string, secret: string, deps: AuthenticateDeps, basic: boolean): Promise<ClientRow> {
  const client = await deps.findEnabledClient(id)
  if (!client?.secret_hash || !(await verifySecret(secret, client.secret_hash))) throw failed(basic)
  return client
}

async function byAssertion(
  assertion: string,
  params: Record<string, unknown>,
  deps: AuthenticateDeps,
): Promise<ClientRow> {
  if (params.client_assertion_type !== JWT_BEARER_ASSERTION) {
    throw new ClientAuthError('invalid_request', `client_assertion_type must have value ${JWT_BEARER_ASSERTION}`)
  }
  let sub: unknown
  try {
    sub = decodeJwt(assertion).sub
  } catch {
    throw new ClientAuthError('invalid_request', 'invalid client_assertion format')
  }
  const client = typeof sub === 'string' ? await deps.findEnabledClient(sub) : undefined
  if (!client?.jwks) throw failed()
  let payload: { jti?: unknown; exp?: unknown; iat?: unknown }
  try {
    ;({ payload } = await jwtVerify(assertion, createLocalJWKSet(client.jwks as JSONWebKeySet), {
      issuer: client.client_id,
      subject: client.client_id,
      audience: deps.audiences,
      algorithms: [...CLIENT_ASSERTION_ALGORITHMS],
      clockTolerance: deps.clockTolerance,
      currentDate: new Date(deps.clock.now() * 1000),
      requiredClaims: ['exp', 'jti'],
    }))
  } catch (error) {
    if (error instanceof joseErrors.JOSEError) throw failed()
    throw error
  }
  // Issued in the future beyond the clock tolerance: refused, as at the token endpoint.
  if (typeof payload.iat === 'number' && payload.iat > deps.clock.now() + deps.clockTolerance) throw failed()
  // RFC 7523 §3: a jti is used once, for as long as the assertion could be accepted.
  if (!(await deps.replayUnique(client.client_id, String(payload.jti), Number(payload.exp) + deps.clockTolerance)))
    throw failed()
  return client
}
