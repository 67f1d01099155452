// The one table of what our own edges tell a refused client: every answer's status, code, description
// and challenge, byte for byte as the edges sent them before the table existed.
import { describe, expect, it } from 'vitest'
import { EDGE_ERRORS, type EdgeError, HttpError } from '../../../src/http/http-error.ts'
import { TemporarilyUnavailable } from '../../../src/oidc/errors.ts'

const ADMIN_ALGS = 'algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"'
const adminChallenge = (error: string) => [
  'Bearer realm="mandate-admin", error="invalid_token"',
  `DPoP realm="mandate-admin", error="${error}", ${ADMIN_ALGS}`,
]
const NONCE = 'a DPoP proof with the server-provided nonce is required'

const fixed: Array<
  [Exclude<EdgeError, 'invalid_request' | 'not_found'>, number, string, string, Record<string, unknown>]
> = [
  [
    'temporarily_unavailable',
    503,
    'temporarily_unavailable',
    'the authorization server is temporarily unavailable, retry later',
    {},
  ],
  ['server_error', 500, 'server_error', 'an unexpected error occurred', {}],
  [
    'invalid_client',
    401,
    'invalid_client',
    'client authentication failed',
    { 'WWW-Authenticate': 'Basic realm="mandate"' },
  ],
  ['unauthorized_client', 400, 'unauthorized_client', 'the client is not allowed to use this grant type', {}],
  ['invalid_target', 400, 'invalid_target', 'the resource is missing, unknown or not allowed for this client', {}],
  ['invalid_scope', 400, 'invalid_scope', 'the requested scope is not allowed', {}],
  ['invalid_dpop_proof', 400, 'invalid_dpop_proof', 'the DPoP proof is invalid', {}],
  ['dpop_proof_reused', 400, 'invalid_dpop_proof', 'the DPoP proof was already used', {}],
  ['use_dpop_nonce', 400, 'use_dpop_nonce', NONCE, {}],
  [
    'admin_authentication_required',
    401,
    'invalid_token',
    'admin authentication is required',
    { 'WWW-Authenticate': adminChallenge('invalid_token') },
  ],
  [
    'admin_invalid_dpop_proof',
    401,
    'invalid_dpop_proof',
    'admin authentication is required',
    { 'WWW-Authenticate': adminChallenge('invalid_dpop_proof') },
  ],
  ['admin_use_dpop_nonce', 401, 'use_dpop_nonce', NONCE, { 'WWW-Authenticate': adminChallenge('use_dpop_nonce') }],
  [
    'approval_token_missing',
    401,
    'invalid_token',
    'the person\u2019s access token is required',
    { 'WWW-Authenticate': 'Bearer realm="mandate-approvals"' },
  ],
  [
    'approval_token_invalid',
    401,
    'invalid_token',
    'the access token is invalid',
    { 'WWW-Authenticate': 'Bearer realm="mandate-approvals", error="invalid_token"' },
  ],
  ['approval_closed', 409, 'invalid_request', 'the approval is no longer pending (answered, used or expired)', {}],
  ['evaluation_forbidden', 403, 'access_denied', 'the client may not ask about this resource', {}],
]

describe('HttpError', () => {
  it.each(fixed)('answers %s as %i %s "%s"', (answer, status, error, description, headers) => {
    const problem = new HttpError(answer)
    expect({ status: problem.status, body: problem.body, headers: problem.headers }).toEqual({
      status,
      body: { error, error_description: description },
      headers,
    })
    expect(problem.description).toBe(description)
  })

  it('words the edge-supplied detail into the answers that take one', () => {
    expect(new HttpError('not_found', 'task').body).toEqual({ error: 'not_found', error_description: 'task not found' })
    expect(new HttpError('not_found', 'task').status).toBe(404)
    const malformed = new HttpError('invalid_request', 'since must be an ISO 8601 time')
    expect({ status: malformed.status, body: malformed.body, headers: malformed.headers }).toEqual({
      status: 400,
      body: { error: 'invalid_request', error_description: 'since must be an ISO 8601 time' },
      headers: {},
    })
  })

  it('covers every name in the table, and nothing else', () => {
    expect(Object.keys(EDGE_ERRORS).sort()).toEqual(
      [...fixed.map(([answer]) => answer), 'invalid_request', 'not_found'].sort(),
    )
  })
})

describe('TemporarilyUnavailable', () => {
  it('is the same 503 as the table defines, for oidc-provider to answer', () => {
    const error = new TemporarilyUnavailable()
    expect([error.statusCode, error.message, error.error_description, error.expose]).toEqual([
      503,
      'temporarily_unavailable',
      'the authorization server is temporarily unavailable, retry later',
      true,
    ])
  })
})
