// A tiny typed OAuth client for tests: every call is a real HTTP request to the server.
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { expect } from 'vitest'

export const basic = (clientId: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`

/** The fixture clients' secrets (test/support/fixtures/clients.yaml). */
export const secrets: Record<string, string> = {
  'agent-one': 'agent-one-secret-0123456789',
  'agent-two': 'agent-two-secret-0123456789',
  'service-only': 'service-only-secret-0123456',
  'rs-tickets': 'rs-tickets-secret-012345678',
  'rs-other': 'rs-other-secret-0123456789',
  'mandate-admin': 'mandate-admin-secret-01234',
  'exchange-only': 'exchange-only-secret-01234',
  'alice-app': 'alice-app-secret-0123456789',
  'sub-agent': 'sub-agent-secret-0123456789',
  'sub-sub-agent': 'sub-sub-agent-secret-012345',
  impersonator: 'impersonator-secret-0123456',
  gateway: 'gateway-secret-01234567890',
  'no-exchange': 'no-exchange-secret-0123456',
  alice: 'alice-self-secret-0123456789',
}

export type Params = Record<string, string | string[] | undefined>

export function form(params: Params): URLSearchParams {
  const body = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) {
    for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value]) body.append(name, item)
  }
  return body
}

export function post(url: string, params: Params, auth?: { clientId: string; secret?: string }): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' }
  if (auth) headers.authorization = basic(auth.clientId, auth.secret ?? (secrets[auth.clientId] as string))
  return fetch(url, { method: 'POST', headers, body: form(params) })
}

export const clientCredentials = (base: string, clientId: string, params: Params = {}, secret?: string) =>
  post(`${base}/token`, { grant_type: 'client_credentials', ...params }, { clientId, ...(secret ? { secret } : {}) })

/** A successful client_credentials token for resource (default tickets), scope as given. */
export async function accessToken(base: string, clientId: string, params: Params = {}): Promise<string> {
  const response = await clientCredentials(base, clientId, { resource: 'https://tickets.test/', ...params })
  const body = (await response.json()) as { access_token?: string }
  expect(response.status, JSON.stringify(body)).toBe(200)
  return body.access_token as string
}

export const introspect = async (base: string, token: string, caller = 'rs-tickets') => {
  const response = await post(`${base}/token/introspection`, { token }, { clientId: caller })
  expect(response.status).toBe(200)
  return (await response.json()) as Record<string, unknown>
}

export const revoke = (base: string, token: string, caller: string) =>
  post(`${base}/token/revocation`, { token }, { clientId: caller })

export const jtiOf = (token: string) => decodeJwt(token).jti as string
export const kidOf = (token: string) => decodeProtectedHeader(token).kid as string

/** security-anchors Part 0: the whole error body, no-store, and nothing else in it. */
export async function expectRejection(
  response: Response,
  expected: { status: number; error: string; error_description: string },
): Promise<void> {
  const body = await response.json()
  expect({ status: response.status, body }).toEqual({
    status: expected.status,
    body: { error: expected.error, error_description: expected.error_description },
  })
  expect(response.headers.get('cache-control')).toContain('no-store')
}

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
export const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'
export const JWT = 'urn:ietf:params:oauth:token-type:jwt'

/** An RFC 8693 request from clientId; params override the defaults (subject type access_token). */
export const exchange = (base: string, clientId: string, params: Params) =>
  post(`${base}/token`, { grant_type: TOKEN_EXCHANGE, subject_token_type: ACCESS_TOKEN, ...params }, { clientId })

/** A successful exchange's access token. */
export async function exchanged(base: string, clientId: string, params: Params): Promise<string> {
  const response = await exchange(base, clientId, params)
  const body = (await response.json()) as { access_token?: string }
  expect(response.status, JSON.stringify(body)).toBe(200)
  return body.access_token as string
}

/** A tasks API call authenticated like the token endpoint (client_secret_basic by default). */
export function tasksCall(
  base: string,
  clientId: string,
  path: string,
  params?: Params,
  options: { json?: boolean; method?: string; secret?: string } = {},
): Promise<Response> {
  const headers: Record<string, string> = {
    authorization: basic(clientId, options.secret ?? (secrets[clientId] as string)),
  }
  let body: string | undefined
  if (params && options.json) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(params)
  } else if (params) {
    headers['content-type'] = 'application/x-www-form-urlencoded'
    body = form(params).toString()
  }
  return fetch(`${base}${path}`, {
    method: options.method ?? (params ? 'POST' : 'GET'),
    headers,
    ...(body ? { body } : {}),
  })
}
