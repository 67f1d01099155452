// mandate/resource-server against the real Mandate over HTTP: tokens from its token endpoint, keys from
// its JWKS, and a koa (and a node:http, and a fetch) resource server guarded by the helper. Each refusal
// is asserted whole: status, WWW-Authenticate and body.
import type { IncomingMessage } from 'node:http'
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  expressMiddleware,
  fetchHandler,
  mandateResourceServer,
  type ResourceServer,
} from '../../sdk/resource-server.ts'
import type { NodeLikeRequest } from '../../sdk/resource-server/express.ts'
import { useDatabase } from '../support/database.ts'
import { type DpopKey, dpopKey } from '../support/dpop.ts'
import { algNone, hs256WithPublicKey, tampered, unknownKid } from '../support/forge.ts'
import { accessToken, basic, exchanged, form, revoke, secrets } from '../support/oauth.ts'
import { type Running, serveDropping, serveKoa, serveNode } from '../support/resource-server.ts'
import { useServer } from '../support/server.ts'
import { startTask } from '../support/tasks.ts'

const t = useDatabase()
const server = useServer(t)
const TICKETS = 'https://tickets.test/'
const METADATA = 'https://tickets.test/.well-known/oauth-protected-resource'
const DPOP_ALGS = 'ES256 ES384 EdDSA Ed25519 PS256 RS256'

let rs: ResourceServer
let api: Running
let writeApi: Running
const running: Running[] = []

const options = () => ({
  issuer: server.issuer,
  resource: TICKETS,
  clientId: 'rs-tickets',
  clientSecret: secrets['rs-tickets'] as string,
  resourceName: 'Tickets',
  scopesSupported: ['tickets:read', 'tickets:write'],
})

beforeAll(async () => {
  rs = mandateResourceServer(options())
  api = await serveKoa(rs)
  writeApi = await serveKoa(rs, { scope: 'tickets:write' })
  running.push(api, writeApi)
})
afterAll(async () => {
  await Promise.all(running.map((r) => r.close()))
})
afterEach(() => {
  vi.useRealTimers()
})

const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers })
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/** The whole refusal: status, challenge, body, and that nothing may cache it. */
async function expectRefusal(
  response: Response,
  expected: { status: number; challenge: string; body?: { error: string; error_description: string } },
) {
  const text = await response.text()
  expect({
    status: response.status,
    challenge: response.headers.get('www-authenticate'),
    body: text === '' ? undefined : JSON.parse(text),
  }).toEqual({ status: expected.status, challenge: expected.challenge, body: expected.body })
  expect(response.headers.get('cache-control')).toBe('no-store')
}

const invalidToken = (description: string, scheme = 'Bearer') => ({
  status: 401,
  challenge:
    scheme === 'DPoP'
      ? `DPoP error="invalid_token", error_description="${description}", algs="${DPOP_ALGS}", resource_metadata="${METADATA}"`
      : `Bearer error="invalid_token", error_description="${description}", resource_metadata="${METADATA}"`,
  body: { error: 'invalid_token', error_description: description },
})

/** The token's claims signed again with Mandate's own active key, header and claims as given. */
async function resigned(token: string, header: Record<string, unknown>, claims: Record<string, unknown> = {}) {
  const { kid, privateKey } = server.app.ring.signingKey()
  return new SignJWT({ ...decodeJwt(token), ...claims })
    .setProtectedHeader({ alg: 'ES256', kid, ...header })
    .sign(privateKey)
}

describe('accepting a token', () => {
  it('accepts a client_credentials token for this resource and hands its claims to the route', async () => {
    const token = await accessToken(server.url, 'agent-one', { scope: 'tickets:read tickets:write' })
    const response = await get(`${api.url}/tickets/42`, bearer(token))
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({
      claims: decodeJwt(token),
      scheme: 'Bearer',
      scopes: ['tickets:read', 'tickets:write'],
    })
  })

  it('accepts an exchanged token and hands over its delegation chain and task', async () => {
    const { task, alice } = await startTask(server.url)
    const token = await exchanged(server.url, 'agent-one', {
      subject_token: alice,
      resource: TICKETS,
      scope: 'tickets:read',
      task_id: task.task_id,
    })
    const response = await get(`${api.url}/tickets/42`, bearer(token))
    expect(response.status).toBe(200)
    expect(((await response.json()) as { claims: unknown }).claims).toMatchObject({
      sub: 'alice',
      act: { sub: 'agent-one' },
      task_id: task.task_id,
      aud: TICKETS,
    })
  })

  it('accepts typ application/at+jwt, the long form of at+jwt (RFC 9068 §4)', async () => {
    const token = await resigned(await accessToken(server.url, 'agent-one'), { typ: 'application/at+jwt' })
    expect((await get(`${api.url}/x`, bearer(token))).status).toBe(200)
  })

  it('takes the scheme name in any case (RFC 9110 §11.1)', async () => {
    const token = await accessToken(server.url, 'agent-one')
    expect((await get(`${api.url}/x`, { authorization: `bearer ${token}` })).status).toBe(200)
  })
})

describe('refusing a request (RFC 6750 §3, RFC 9728 §5.1)', () => {
  it('answers a request without a token with the bare challenge: no error code, no body', async () => {
    await expectRefusal(await get(`${api.url}/tickets/42`), {
      status: 401,
      challenge: `Bearer resource_metadata="${METADATA}"`,
    })
    // Another scheme is no bearer token either.
    await expectRefusal(await get(`${api.url}/tickets/42`, { authorization: basic('a', 'b') }), {
      status: 401,
      challenge: `Bearer resource_metadata="${METADATA}"`,
    })
  })

  it('answers a malformed Authorization header with 400 invalid_request', async () => {
    for (const authorization of ['Bearer', 'Bearer a b', 'Bearer tok"en']) {
      await expectRefusal(await get(`${api.url}/x`, { authorization }), {
        status: 400,
        challenge: `Bearer error="invalid_request", error_description="the Authorization header is malformed", resource_metadata="${METADATA}"`,
        body: { error: 'invalid_request', error_description: 'the Authorization header is malformed' },
      })
    }
  })

  it('refuses a token for another resource', async () => {
    const token = await accessToken(server.url, 'agent-one', {
      resource: 'https://other.test/api',
      scope: 'other:read',
    })
    await expectRefusal(
      await get(`${api.url}/x`, bearer(token)),
      invalidToken('the access token is not meant for this resource'),
    )
  })

  it('refuses an expired token', async () => {
    const token = await accessToken(server.url, 'agent-one')
    expect((await get(`${api.url}/x`, bearer(token))).status).toBe(200)
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + (Number(decodeJwt(token).exp) * 1000 - Date.now()) + 6_000) // past exp + tolerance
    await expectRefusal(await get(`${api.url}/x`, bearer(token)), invalidToken('the access token has expired'))
  })

  it.each([
    ['typ JWT', { typ: 'JWT' }, {}],
    ['no typ', { typ: undefined }, {}],
    ['another issuer', { typ: 'at+jwt' }, { iss: 'https://evil.test' }],
    ['no client_id (RFC 9068 §2.2)', { typ: 'at+jwt' }, { client_id: undefined }],
  ])("refuses a token signed by Mandate's own key with %s", async (_, header, claims) => {
    const token = await resigned(await accessToken(server.url, 'agent-one'), header, claims)
    await expectRefusal(await get(`${api.url}/x`, bearer(token)), invalidToken('the access token is invalid'))
  })

  it.each([
    ['a tampered payload', (token: string) => tampered(token, { scope: 'tickets:write admin' })],
    ['alg none', algNone],
    ['HS256 keyed with the public key', (token: string) => hs256WithPublicKey(token, `${server.url}/jwks`)],
    ['a key Mandate never published', (token: string) => unknownKid(token, decodeProtectedHeader(token).kid)],
    ['an unknown kid', unknownKid],
    ['not a JWT at all', () => 'not.a.jwt'],
  ])('refuses a token with a bad signature: %s', async (_, forge) => {
    const token = await forge(await accessToken(server.url, 'agent-one'))
    await expectRefusal(await get(`${api.url}/x`, bearer(token)), invalidToken('the access token is invalid'))
  })

  it('refuses a token lacking a scope the route needs with 403 insufficient_scope naming it', async () => {
    const token = await accessToken(server.url, 'agent-one', { scope: 'tickets:read' })
    await expectRefusal(await get(`${writeApi.url}/x`, bearer(token)), {
      status: 403,
      challenge: `Bearer error="insufficient_scope", error_description="the access token does not carry the scope this request needs", scope="tickets:write", resource_metadata="${METADATA}"`,
      body: {
        error: 'insufficient_scope',
        error_description: 'the access token does not carry the scope this request needs',
      },
    })
    const writer = await accessToken(server.url, 'agent-one', { scope: 'tickets:read tickets:write' })
    expect((await get(`${writeApi.url}/x`, bearer(writer))).status).toBe(200)
  })

  it('answers 503 (never a token verdict) when Mandate cannot be reached for its keys', async () => {
    const dropping = await serveDropping()
    running.push(dropping)
    const errors: unknown[] = []
    const cut = await serveKoa(
      mandateResourceServer({ ...options(), issuer: dropping.url, onError: (error) => errors.push(error) }),
    )
    running.push(cut)
    const token = await accessToken(server.url, 'agent-one')
    const response = await get(`${cut.url}/x`, bearer(token))
    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toBe('5')
    expect(response.headers.get('www-authenticate')).toBeNull()
    expect(await response.json()).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'the authorization server cannot be reached',
    })
    expect(errors).toHaveLength(1)
  })
})

describe('DPoP-bound tokens (RFC 9449 §7)', () => {
  let key: DpopKey
  let bound: string

  beforeAll(async () => {
    key = await dpopKey()
    const response = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('agent-one', secrets['agent-one'] as string),
        dpop: await key.proof('POST', `${server.url}/token`),
      },
      body: form({ grant_type: 'client_credentials', resource: TICKETS, scope: 'tickets:read' }),
    })
    const body = (await response.json()) as { access_token: string; token_type: string }
    expect(body.token_type).toBe('DPoP')
    bound = body.access_token
  })

  /** Proofs name the URL clients use: the resource's own origin, whatever host this process is reached at. */
  const publicUrl = (path: string) => new URL(path, TICKETS).href
  const dpop = async (path: string, token = bound, proofKey = key, proofUrl = publicUrl(path)) => ({
    authorization: `DPoP ${token}`,
    dpop: await proofKey.proof('GET', proofUrl, { accessToken: token }),
  })

  it('accepts a bound token presented with a proof of its key', async () => {
    const path = '/tickets/42?view=full'
    const response = await get(`${api.url}${path}`, await dpop(path))
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ scheme: 'DPoP', claims: { cnf: { jkt: key.jkt } } })
  })

  it('refuses a bound token presented as a bearer token, pointing at the DPoP scheme', async () => {
    await expectRefusal(
      await get(`${api.url}/x`, bearer(bound)),
      invalidToken('the access token is DPoP-bound: present it with the DPoP scheme and a proof', 'DPoP'),
    )
  })

  it('refuses a bound token without a proof', async () => {
    await expectRefusal(await get(`${api.url}/x`, { authorization: `DPoP ${bound}` }), {
      status: 401,
      challenge: `DPoP error="invalid_dpop_proof", error_description="a DPoP proof is required", algs="${DPOP_ALGS}", resource_metadata="${METADATA}"`,
      body: { error: 'invalid_dpop_proof', error_description: 'a DPoP proof is required' },
    })
  })

  it.each([
    ['of another key', async (path: string) => dpop(path, bound, await dpopKey())],
    ['for another path', async (path: string) => dpop(path, bound, key, publicUrl(`${path}/elsewhere`))],
    ['naming the host this process is reached at', async (path: string) => dpop(path, bound, key, `${api.url}${path}`)],
    [
      'for another token (ath)',
      async (path: string) => ({
        authorization: `DPoP ${bound}`,
        dpop: await key.proof('GET', publicUrl(path), { accessToken: 'another-token' }),
      }),
    ],
    [
      'too old',
      async (path: string) => ({
        authorization: `DPoP ${bound}`,
        dpop: await key.proof('GET', publicUrl(path), { accessToken: bound, iat: Math.floor(Date.now() / 1000) - 301 }),
      }),
    ],
    [
      'for another method',
      async (path: string) => ({
        authorization: `DPoP ${bound}`,
        dpop: await key.proof('POST', publicUrl(path), { accessToken: bound }),
      }),
    ],
  ])('refuses a proof %s', async (_, headers) => {
    const path = '/tickets/42'
    await expectRefusal(await get(`${api.url}${path}`, await headers(path)), {
      status: 401,
      challenge: `DPoP error="invalid_dpop_proof", error_description="the DPoP proof is invalid", algs="${DPOP_ALGS}", resource_metadata="${METADATA}"`,
      body: { error: 'invalid_dpop_proof', error_description: 'the DPoP proof is invalid' },
    })
  })

  it('refuses a proof used twice (RFC 9449 §11.1)', async () => {
    const headers = await dpop('/tickets/42')
    expect((await get(`${api.url}/tickets/42`, headers)).status).toBe(200)
    expect((await get(`${api.url}/tickets/42`, headers)).status).toBe(401)
  })

  it('refuses an unbound token presented with the DPoP scheme', async () => {
    const token = await accessToken(server.url, 'agent-one')
    await expectRefusal(
      await get(`${api.url}/x`, await dpop('/x', token)),
      invalidToken('the access token is not DPoP-bound', 'DPoP'),
    )
  })

  it('checks proofs against the configured origin when clients reach the resource elsewhere', async () => {
    const local = await serveKoa(mandateResourceServer({ ...options(), origin: 'http://localhost:8080' }))
    running.push(local)
    expect((await get(`${local.url}/x`, await dpop('/x', bound, key, 'http://localhost:8080/x'))).status).toBe(200)
    expect((await get(`${local.url}/x`, await dpop('/x'))).status).toBe(401)
  })

  it('with dpopRequired, refuses a bearer token and challenges with DPoP', async () => {
    const strict = await serveKoa(mandateResourceServer({ ...options(), dpopRequired: true }))
    running.push(strict)
    const token = await accessToken(server.url, 'agent-one')
    await expectRefusal(
      await get(`${strict.url}/x`, bearer(token)),
      invalidToken('this resource requires a DPoP-bound access token', 'DPoP'),
    )
    await expectRefusal(await get(`${strict.url}/x`), {
      status: 401,
      challenge: `DPoP algs="${DPOP_ALGS}", resource_metadata="${METADATA}"`,
    })
    expect((await get(`${strict.url}/x`, await dpop('/x'))).status).toBe(200)
  })
})

describe('RFC 9728 protected-resource metadata', () => {
  const document = (resource: string, extra: Record<string, unknown> = {}) => ({
    resource,
    authorization_servers: [server.issuer],
    bearer_methods_supported: ['header'],
    dpop_signing_alg_values_supported: DPOP_ALGS.split(' '),
    dpop_bound_access_tokens_required: false,
    ...extra,
  })

  it('serves the document without a token', async () => {
    const response = await get(`${api.url}/.well-known/oauth-protected-resource`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('application/json')
    expect(await response.json()).toEqual(
      document(TICKETS, { resource_name: 'Tickets', scopes_supported: ['tickets:read', 'tickets:write'] }),
    )
  })

  it('serves it at the path-suffixed well-known URL when the resource has a path (§3.1)', async () => {
    const other = mandateResourceServer({
      issuer: server.issuer,
      resource: 'https://other.test/api',
      clientId: 'rs-other',
      clientSecret: secrets['rs-other'] as string,
    })
    expect(other.metadataUrl).toBe('https://other.test/.well-known/oauth-protected-resource/api')
    const app = await serveKoa(other)
    running.push(app)
    for (const path of ['/.well-known/oauth-protected-resource/api', '/.well-known/oauth-protected-resource']) {
      const response = await get(`${app.url}${path}`)
      expect(response.status).toBe(200)
      expect(await response.json()).toEqual(document('https://other.test/api'))
    }
    // The challenge names the §3.1 URL.
    expect((await get(`${app.url}/api/x`)).headers.get('www-authenticate')).toBe(
      'Bearer resource_metadata="https://other.test/.well-known/oauth-protected-resource/api"',
    )
    // A POST there is an ordinary guarded request.
    expect((await fetch(`${app.url}/.well-known/oauth-protected-resource`, { method: 'POST' })).status).toBe(401)
  })

  it('names the authorization server whose own metadata lists the JWKS the helper verifies with', async () => {
    const as = (await (await get(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<
      string,
      unknown
    >
    expect(rs.metadata().authorization_servers).toEqual([as.issuer])
    expect(as.jwks_uri).toBe(`${server.issuer}/jwks`)
  })
})

describe('the express (node:http) and fetch adapters', () => {
  it('guards a node:http server the way express would mount it', async () => {
    const middleware = expressMiddleware(rs, { scope: 'tickets:read' })
    const app = await serveNode((req: NodeLikeRequest & IncomingMessage, res) =>
      middleware(req, res, (error) => {
        if (error || !req.mandate?.ok) return res.writeHead(500).end()
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sub: req.mandate.claims.sub }))
      }),
    )
    running.push(app)
    const token = await accessToken(server.url, 'agent-one', { scope: 'tickets:read' })
    const ok = await get(`${app.url}/tickets`, bearer(token))
    expect({ status: ok.status, body: await ok.json() }).toEqual({ status: 200, body: { sub: 'agent-one' } })
    await expectRefusal(await get(`${app.url}/tickets`), {
      status: 401,
      challenge: `Bearer resource_metadata="${METADATA}"`,
    })
    const metadata = await get(`${app.url}/.well-known/oauth-protected-resource`)
    expect(((await metadata.json()) as { resource: string }).resource).toBe(TICKETS)
  })

  it('wraps a (Request) => Response handler', async () => {
    const handler = fetchHandler(rs, (_request, auth) => Response.json({ sub: auth.claims.sub }))
    const token = await accessToken(server.url, 'agent-one')
    const ok = await handler(new Request('https://tickets.test/tickets/42', { headers: bearer(token) }))
    expect({ status: ok.status, body: await ok.json() }).toEqual({ status: 200, body: { sub: 'agent-one' } })
    await expectRefusal(await handler(new Request('https://tickets.test/tickets/42')), {
      status: 401,
      challenge: `Bearer resource_metadata="${METADATA}"`,
    })
    const metadata = await handler(new Request(METADATA))
    expect(((await metadata.json()) as { resource: string }).resource).toBe(TICKETS)
  })
})

describe('what the helper does not know', () => {
  it('accepts a revoked token until its exp: revocation is for the evaluation API (or introspection) to see', async () => {
    // Local JWT validation cannot see revocation (RFC 9068 §4); sensitive actions go through authorize().
    const token = await accessToken(server.url, 'agent-one')
    expect((await revoke(server.url, token, 'agent-one')).status).toBe(200)
    expect((await get(`${api.url}/x`, bearer(token))).status).toBe(200)
  })
})
