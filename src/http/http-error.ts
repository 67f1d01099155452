// What our own edges (admin API, tasks API, the listeners' own middleware) tell a client that is refused,
// in one table: one name per public answer, with its status, RFC 6749 §5.2 style error code, description
// and challenge. oidc-provider's endpoints keep its own errors; TemporarilyUnavailable reuses the 503 here.
import { DPOP_ALGORITHMS } from '../dpop/proof.ts'
import { GRANT_NOT_ALLOWED, RESOURCE_INVALID, SCOPE_INVALID } from '../oauth/descriptions.ts'

interface Answer {
  readonly status: number
  readonly error: string
  /** Fixed, or worded from the one detail the edge supplies (what was not found, what is malformed). */
  readonly description: string | ((detail: string) => string)
  readonly headers?: Readonly<Record<string, string | readonly string[]>>
}

// RFC 6750 §3 and RFC 9449 §7.1: both schemes are offered; the error names the token, never why.
const adminChallenge = (error: string) => ({
  'WWW-Authenticate': [
    `Bearer realm="mandate-admin", error="invalid_token"`,
    `DPoP realm="mandate-admin", error="${error}", algs="${DPOP_ALGORITHMS.join(' ')}"`,
  ],
})
const ADMIN_AUTHENTICATION = 'admin authentication is required'
const NONCE_REQUIRED = 'a DPoP proof with the server-provided nonce is required'

export const EDGE_ERRORS = {
  // RFC 6749 §4.1.2.1 code: an outage (database or another dependency), never a bug dressed up as one.
  temporarily_unavailable: {
    status: 503,
    error: 'temporarily_unavailable',
    description: 'the authorization server is temporarily unavailable, retry later',
  },
  // Anything unexpected: nothing internal is exposed.
  server_error: { status: 500, error: 'server_error', description: 'an unexpected error occurred' },
  invalid_request: { status: 400, error: 'invalid_request', description: (problem: string) => problem },
  not_found: { status: 404, error: 'not_found', description: (what: string) => `${what} not found` },
  // RFC 6749 §5.2: a Basic challenge with every 401 (required when Basic was tried, useful otherwise).
  invalid_client: {
    status: 401,
    error: 'invalid_client',
    description: 'client authentication failed',
    headers: { 'WWW-Authenticate': 'Basic realm="mandate"' },
  },
  unauthorized_client: {
    status: 400,
    error: 'unauthorized_client',
    description: GRANT_NOT_ALLOWED,
  },
  invalid_target: {
    status: 400,
    error: 'invalid_target',
    description: RESOURCE_INVALID,
  },
  invalid_scope: { status: 400, error: 'invalid_scope', description: SCOPE_INVALID },
  // RFC 6750 §3.1 at /approvals/{id}, a protected resource of the person: no token, then a bad one.
  approval_token_missing: {
    status: 401,
    error: 'invalid_token',
    description: 'the person\u2019s access token is required',
    headers: { 'WWW-Authenticate': 'Bearer realm="mandate-approvals"' },
  },
  approval_token_invalid: {
    status: 401,
    error: 'invalid_token',
    description: 'the access token is invalid',
    headers: { 'WWW-Authenticate': 'Bearer realm="mandate-approvals", error="invalid_token"' },
  },
  approval_closed: {
    status: 409,
    error: 'invalid_request',
    description: 'the approval is no longer pending (answered, used or expired)',
  },
  // AuthZEN (HTTPS binding): 403 when the caller may not ask about this resource (it is not
  // one of the resource's introspectors); the same answer for a resource that does not exist.
  evaluation_forbidden: {
    status: 403,
    error: 'access_denied',
    description: 'the client may not ask about this resource',
  },
  // RFC 9449 §5 and §8: a request's own proof, refused where a token is requested (400).
  invalid_dpop_proof: { status: 400, error: 'invalid_dpop_proof', description: 'the DPoP proof is invalid' },
  dpop_proof_reused: { status: 400, error: 'invalid_dpop_proof', description: 'the DPoP proof was already used' },
  use_dpop_nonce: { status: 400, error: 'use_dpop_nonce', description: NONCE_REQUIRED },
  // RFC 9449 §7.1: at the admin API, a protected resource, every refusal of its token is a 401.
  admin_authentication_required: {
    status: 401,
    error: 'invalid_token',
    description: ADMIN_AUTHENTICATION,
    headers: adminChallenge('invalid_token'),
  },
  admin_invalid_dpop_proof: {
    status: 401,
    error: 'invalid_dpop_proof',
    description: ADMIN_AUTHENTICATION,
    headers: adminChallenge('invalid_dpop_proof'),
  },
  admin_use_dpop_nonce: {
    status: 401,
    error: 'use_dpop_nonce',
    description: NONCE_REQUIRED,
    headers: adminChallenge('use_dpop_nonce'),
  },
} as const satisfies Record<string, Answer>

export type EdgeError = keyof typeof EDGE_ERRORS

type Detail<N extends EdgeError> = (typeof EDGE_ERRORS)[N]['description'] extends string ? [] : [detail: string]

/** A refusal at one of our own edges, answered by jsonErrors (src/http/errors.ts) from EDGE_ERRORS. */
export class HttpError<N extends EdgeError = EdgeError> extends Error {
  override name = 'HttpError'
  readonly answer: N
  readonly status: number
  readonly error: string
  readonly headers: Readonly<Record<string, string | readonly string[]>>

  constructor(answer: N, ...[detail]: Detail<N>) {
    const { status, error, description, headers = {} }: Answer = EDGE_ERRORS[answer]
    super(typeof description === 'string' ? description : description(detail as string))
    this.answer = answer
    this.status = status
    this.error = error
    this.headers = headers
  }

  /** The public description, exactly as sent. */
  get description(): string {
    return this.message
  }

  get body(): { error: string; error_description: string } {
    return { error: this.error, error_description: this.message }
  }
}
