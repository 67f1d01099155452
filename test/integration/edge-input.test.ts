// Malformed input, unknown routes, switched-off endpoints and a forged Host: each answered at the edge
// with a JSON error (never a 500, never HTML, never a redirect) and without writing a row.
import { describe, expect, it } from 'vitest'
import { MAX_JSON_DEPTH } from '../../src/http/strict-json.ts'
import { clientAssertion, JWT_BEARER } from '../support/client-assertion.ts'
import { useDatabase, writtenRows } from '../support/database.ts'
import { ACCESS_TOKEN, basic, secrets, TOKEN_EXCHANGE } from '../support/oauth.ts'
import { rawRequest } from '../support/raw-http.ts'
import { expectRefused } from '../support/refusals.ts'
import type { Send } from '../support/requests.ts'
import { useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const unsigned = (claims: Record<string, unknown>) => `${b64({ alg: 'ES256' })}.${b64(claims)}.c2ln`
const agentOne = basic('agent-one', secrets['agent-one'] as string)

const post =
  (path: string, body: string, headers: Record<string, string> = {}): Send =>
  () =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body,
    })
const json = (path: string, body: string, headers: Record<string, string> = {}): Send =>
  post(path, body, { 'content-type': 'application/json', ...headers })
type Listener = 'public' | 'admin' | 'management'
const base = (listener: Listener) =>
  ({ public: server.url, admin: server.adminUrl, management: server.managementUrl })[listener]
const get =
  (listener: Listener, path: string, headers: Record<string, string> = {}): Send =>
  () =>
    fetch(`${base(listener)}${path}`, { headers })

describe('NUL characters', () => {
  const nul = {
    status: 400,
    error: 'invalid_request',
    error_description: 'request parameters must be well-formed text without NUL characters',
  }
  const assertionWithNul = unsigned({ sub: 'a\u0000b', iss: 'a\u0000b', aud: 'x', jti: 'j', exp: 9999999999 })

  it.each<[string, () => Send]>([
    [
      'a client_id at the token endpoint',
      () => post('/token', 'grant_type=client_credentials&client_id=a%00b&client_secret=x'),
    ],
    [
      'a resource at the token endpoint',
      () =>
        post('/token', 'grant_type=client_credentials&resource=https://tickets.test/%00', { authorization: agentOne }),
    ],
    [
      'a client_assertion sub at the token endpoint',
      () =>
        post(
          '/token',
          `grant_type=client_credentials&client_assertion_type=${encodeURIComponent(JWT_BEARER)}&client_assertion=${assertionWithNul}`,
        ),
    ],
    [
      'a subject_token iss at the token endpoint',
      () =>
        post(
          '/token',
          new URLSearchParams({
            grant_type: TOKEN_EXCHANGE,
            subject_token_type: ACCESS_TOKEN,
            resource: 'https://tickets.test/',
            subject_token: unsigned({ iss: 'https://idp\u0000.test', sub: 'x' }),
          }).toString(),
          { authorization: agentOne },
        ),
    ],
    ['a client_id at introspection', () => post('/token/introspection', 'token=x&client_id=a%00b&client_secret=x')],
    [
      'a token at revocation',
      () =>
        post('/token/revocation', 'token=a%00b', {
          authorization: basic('rs-tickets', secrets['rs-tickets'] as string),
        }),
    ],
    ['a client_id at the tasks API', () => post('/tasks', 'client_id=a%00b&client_secret=x')],
    [
      'a client_assertion sub at the tasks API',
      () =>
        post('/tasks', `client_assertion_type=${encodeURIComponent(JWT_BEARER)}&client_assertion=${assertionWithNul}`),
    ],
    [
      'a JSON member value at the tasks API',
      () => json('/tasks', '{"purpose":"a\\u0000b","subject_token":"x"}', { authorization: agentOne }),
    ],
    [
      'a JSON member name at the tasks API',
      () => json('/tasks', '{"purpose\\u0000":"a"}', { authorization: agentOne }),
    ],
    [
      'Basic credentials at the tasks API',
      () => post('/tasks', 'purpose=x', { authorization: basic('agent-one\u0000', 'x') }),
    ],
    ['a task id in the path', () => get('public', '/tasks/a%00b', { authorization: agentOne })],
    ['a query parameter', () => get('public', '/jwks?x=%00')],
    ['an admin path, before admin authentication', () => get('admin', '/admin/v1/tokens/a%00/lineage')],
  ])('refuses a NUL in %s with 400 invalid_request', async (_, send) => {
    await expectRefused(t.db, send(), nul)
  })
})

describe('JSON bodies', () => {
  it.each([
    ['a repeated member name', '{"purpose":"a","purpose":"b"}', 'the JSON body repeats a member name'],
    [
      'a member name repeated through an escape',
      '{"purpose":"a","\\u0070urpose":"b"}',
      'the JSON body repeats a member name',
    ],
    [
      'nesting deeper than the limit',
      `{"purpose":${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}}`,
      'the JSON body is nested too deeply',
    ],
  ])('refuses %s with 400 invalid_request, authenticated or not', async (_, body, description) => {
    for (const headers of [{ authorization: agentOne }, {}]) {
      await expectRefused(t.db, json('/tasks', body, headers), {
        status: 400,
        error: 'invalid_request',
        error_description: description,
      })
    }
  })
})

describe('routes', () => {
  const notFound = { status: 404, error: 'not_found', error_description: 'no such endpoint' }
  const methodNotAllowed = {
    status: 405,
    error: 'method_not_allowed',
    error_description: 'the request method is not allowed here',
  }

  it.each<[Listener, string, string]>([
    ['public', 'GET', '/no-such-endpoint'],
    ['public', 'POST', '/no-such-endpoint'],
    ['public', 'GET', '/tasks/x/y'],
    ['admin', 'GET', '/no-such-endpoint'],
    ['admin', 'GET', '/admin/v1/nothing'],
    ['management', 'GET', '/no-such-endpoint'],
  ])('answers an unknown %s route (%s %s) with a JSON 404', async (listener, method, path) => {
    await expectRefused(t.db, () => fetch(`${base(listener)}${path}`, { method }), notFound)
  })

  it.each<[Listener, string, string, string]>([
    ['public', 'GET', '/token', 'POST, OPTIONS'],
    ['public', 'PUT', '/token/introspection', 'POST, OPTIONS'],
    ['public', 'DELETE', '/jwks', 'GET, OPTIONS, HEAD'],
    ['public', 'GET', '/tasks', 'POST'],
    ['public', 'POST', '/tasks/some-task', 'GET, HEAD'],
    ['admin', 'POST', '/admin/v1/audit', 'GET, HEAD'],
    ['management', 'POST', '/metrics', 'GET, HEAD'],
  ])('answers a wrong %s method (%s %s) with a JSON 405 and Allow', async (listener, method, path, allow) => {
    const response = await fetch(`${base(listener)}${path}`, { method })
    expect(response.headers.get('allow')).toBe(allow)
    await expectRefused(t.db, async () => response, methodNotAllowed)
  })

  it.each([
    ['POST', '/reg'],
    ['GET', '/reg'],
    ['GET', '/device'],
    ['POST', '/token/introspection/extra'],
    ['GET', '/interaction'],
    ['GET', '/interaction/uid/other'],
    ['POST', '/device/auth'],
    ['POST', '/backchannel'],
    ['POST', '/challenge'],
  ])('serves no %s %s (oidc-provider endpoints without a use are off)', async (method, path) => {
    await expectRefused(
      t.db,
      () =>
        fetch(`${server.url}${path}`, {
          method,
          redirect: 'manual',
          ...(method === 'POST'
            ? { headers: { authorization: agentOne, 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=b' }
            : {}),
        }),
      notFound,
    )
  })

  it('advertises only the endpoints it serves', async () => {
    const metadata = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >
    const endpoints = Object.keys(metadata).filter((member) => member.endsWith('_endpoint') || member === 'jwks_uri')
    expect(endpoints.sort()).toEqual([
      'authorization_endpoint',
      'end_session_endpoint',
      'introspection_endpoint',
      'jwks_uri',
      'pushed_authorization_request_endpoint',
      'revocation_endpoint',
      'token_endpoint',
      'userinfo_endpoint',
    ])
    // Each one is served: none answers the JSON 404 of an unknown route.
    for (const member of endpoints) {
      const response = await fetch(metadata[member] as string, { redirect: 'manual' })
      expect({ member, status: response.status }).not.toEqual({ member, status: 404 })
    }
  })
})

describe('the Host header', () => {
  const host = 'evil.example'

  it('never reaches discovery: every URL is under the issuer, whatever Host or request target says', async () => {
    for (const target of [
      '/.well-known/openid-configuration',
      `http://${host}/.well-known/oauth-authorization-server`,
    ]) {
      const answer = await rawRequest(
        server.url,
        `GET ${target} HTTP/1.1\nHost: ${host}\nX-Forwarded-Host: ${host}\nX-Forwarded-Proto: https`,
      )
      expect(answer.status).toBe(200)
      const metadata = answer.body as Record<string, unknown>
      const urls = Object.entries(metadata).filter(([, value]) => typeof value === 'string' && /^https?:/.test(value))
      expect(urls.length).toBeGreaterThanOrEqual(5)
      for (const [member, url] of urls)
        expect({ member, url: (url as string).startsWith(`${server.issuer}/`) || url === server.issuer }).toEqual({
          member,
          url: true,
        })
    }
  })

  const withAssertion = async (path: string, audience: string, params: Record<string, string>) => {
    const body = new URLSearchParams({
      ...params,
      client_assertion_type: JWT_BEARER,
      client_assertion: await clientAssertion(audience),
    }).toString()
    return rawRequest(
      server.url,
      `POST ${path} HTTP/1.1\nHost: ${host}\nContent-Type: application/x-www-form-urlencoded\nContent-Length: ${body.length}`,
      body,
    )
  }

  it.each([
    ['/token', `http://${host}/token`, { grant_type: 'client_credentials', resource: 'https://tickets.test/' }],
    ['/token', `http://${host}`, { grant_type: 'client_credentials', resource: 'https://tickets.test/' }],
    ['/token/introspection', `http://${host}/token/introspection`, { token: 'x' }],
    ['/tasks', `http://${host}/tasks`, { purpose: 'x' }],
  ])('refuses at %s a client assertion whose aud is the forged host (%s)', async (path, audience, params) => {
    const before = await writtenRows(t.db)
    const answer = await withAssertion(path, audience, params)
    expect({ status: answer.status, error: (answer.body as { error?: string }).error }).toEqual({
      status: 401,
      error: 'invalid_client',
    })
    expect(await writtenRows(t.db)).toEqual(before)
  })

  it('accepts the same assertion addressed to the issuer, whatever the Host', async () => {
    const answer = await withAssertion('/token', `${server.issuer}/token`, {
      grant_type: 'client_credentials',
      resource: 'https://tickets.test/',
    })
    expect(answer.status).toBe(200)
    expect(answer.body).toHaveProperty('access_token')
  })
})
