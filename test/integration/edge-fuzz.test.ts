// Random and mutated parameters, JSON bodies and JWTs thrown at the endpoints that authenticate clients,
// never with valid credentials: whatever arrives, the answer is a 4xx JSON OAuth error (never a 5xx,
// never a token) and nothing is written (tokens, decisions, audit events, tasks, oidc-provider rows).
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import fc from 'fast-check'
import { SignJWT } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { clientAssertion, JWT_BEARER } from '../support/client-assertion.ts'
import { useDatabase, writtenRows } from '../support/database.ts'
import { personToken } from '../support/idp.ts'
import { ACCESS_TOKEN, accessToken, basic, JWT, secrets, TOKEN_EXCHANGE } from '../support/oauth.ts'
import { useServer } from '../support/server.ts'

const t = useDatabase()
// Off here so every request reaches authentication (rate limits have their own tests).
const server = useServer(t, { env: { MANDATE_RATE_LIMITS__ENABLED: 'false' } })

const b64 = (text: string) => Buffer.from(text).toString('base64url')
const enc = (value: unknown) => b64(JSON.stringify(value))
/** Every byte %-encoded (encodeURIComponent throws on a lone surrogate). */
const pct = (text: string) => Array.from(Buffer.from(text), (byte) => `%${byte.toString(16).padStart(2, '0')}`).join('')

interface FuzzRequest {
  path: string
  method: string
  authorization?: string
  contentType?: string
  body?: string
}

/** Real tokens and assertions to mutate: a subject token, a trusted IdP token, a foreign-key assertion. */
const seeds: string[] = []
beforeAll(async () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const foreign = await new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: 'jwt-client-1' })
    .setIssuer('jwt-agent')
    .setSubject('jwt-agent')
    .setAudience(`${server.issuer}/token`)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('1m')
    .sign(privateKey)
  seeds.push(await accessToken(server.url, 'alice-app', { scope: 'tickets:read' }), await personToken(), foreign)
})

function arbitraries() {
  const hostile = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ maxLength: 40 }),
    fc.constantFrom(
      '',
      '\u0000',
      'a\u0000b',
      '\ud800',
      '%00',
      "'; drop table clients; --",
      '../../etc/passwd',
      'x'.repeat(3000),
      'agent-one',
      'jwt-agent',
      'https://tickets.test/',
      'https://idp.test',
      TOKEN_EXCHANGE,
      ACCESS_TOKEN,
      JWT,
      JWT_BEARER,
      'client_credentials',
      'tickets:read tickets:write',
      '{"a":1}',
      '[[[[[[[[[[[[[[[[[[[[',
    ),
  )
  const mutated = fc
    .tuple(fc.constantFrom(...seeds), fc.nat(), fc.constantFrom('flip', 'cut', 'swap', 'none', 'claims'), hostile)
    .map(([token, at, how, value]) => {
      const [header = '', payload = '', signature = ''] = token.split('.')
      const index = at % token.length
      switch (how) {
        case 'flip':
          return `${token.slice(0, index)}${token[index] === 'A' ? 'B' : 'A'}${token.slice(index + 1)}`
        case 'cut':
          return token.slice(0, index)
        case 'swap':
          return `${payload}.${header}.${signature}`
        case 'none':
          return `${enc({ alg: 'none' })}.${payload}.`
        default: {
          const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>
          const name = ['iss', 'sub', 'aud', 'jti', 'exp', 'client_id', 'act', 'task_id'][at % 8] as string
          return `${header}.${enc({ ...claims, [name]: value })}.${signature}`
        }
      }
    })
  const forged = fc
    .tuple(
      fc.record(
        { alg: fc.constantFrom('ES256', 'RS256', 'HS256', 'none', 'EdDSA'), kid: hostile },
        { requiredKeys: [] },
      ),
      fc.record(
        { iss: hostile, sub: hostile, aud: hostile, jti: hostile, exp: fc.oneof(fc.integer(), hostile) },
        { requiredKeys: [] },
      ),
      fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant(undefined)),
      hostile,
    )
    .map(
      ([header, claims, extra, signature]) =>
        `${enc(header)}.${enc(extra === undefined ? claims : extra)}.${b64(signature)}`,
    )
  const value = fc.oneof(
    { weight: 3, arbitrary: hostile },
    { weight: 2, arbitrary: mutated },
    { weight: 1, arbitrary: forged },
  )
  const name = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.constantFrom(
        'grant_type',
        'subject_token',
        'subject_token_type',
        'actor_token',
        'actor_token_type',
        'resource',
        'audience',
        'scope',
        'task_id',
        'token',
        'token_type_hint',
        'client_id',
        'client_secret',
        'client_assertion',
        'client_assertion_type',
        'purpose',
        'expires_in',
        'parent_task_id',
        'outcome',
        'requested_token_type',
      ),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  )
  const entries = fc.array(fc.tuple(name, value), { maxLength: 10 })

  const nested: fc.Arbitrary<string> = fc.letrec<{ node: string }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      value.map((v) => JSON.stringify(v)),
      fc.array(tie('node'), { maxLength: 3 }).map((items) => `[${items.join(',')}]`),
      fc
        .array(fc.tuple(name, tie('node')), { maxLength: 3 })
        .map((members) => `{${members.map(([n, v]) => `${JSON.stringify(n)}:${v}`).join(',')}}`),
      fc.integer({ min: 10, max: 40 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
    ),
  })).node
  // Member lists written out by hand, so names may repeat (JSON.parse would keep the last silently).
  const jsonBody = fc
    .array(
      fc.tuple(
        name,
        fc.oneof(
          value.map((v) => JSON.stringify(v)),
          nested,
        ),
      ),
      { maxLength: 8 },
    )
    .map((members) => `{${members.map(([n, v]) => `${JSON.stringify(n)}:${v}`).join(',')}}`)
  const formBody = entries.map((list) => {
    const form = new URLSearchParams()
    for (const [n, v] of list) form.append(n, v)
    return form.toString()
  })
  const rawBody = fc.string({ unit: 'binary', maxLength: 200 })

  const body = fc.oneof(
    formBody.map((text) => ({ contentType: 'application/x-www-form-urlencoded', body: text })),
    jsonBody.map((text) => ({ contentType: 'application/json', body: text })),
    fc
      .tuple(
        fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/json', 'multipart/form-data'),
        rawBody,
      )
      .map(([contentType, text]) => ({ contentType, body: text })),
    fc.constant({}),
  )
  const authorization = fc.oneof(
    fc.constant(undefined),
    fc.constantFrom(...Object.keys(secrets)).map((client) => basic(client, 'wrong-secret-0123456789')),
    fc.tuple(hostile, hostile).map(([id, secret]) => `Basic ${b64(`${pct(id)}:${pct(secret)}`)}`),
    hostile.map((text) => `Basic ${b64(text)}`),
    fc
      .tuple(fc.constantFrom('Bearer', 'Basic', 'DPoP', ''), value)
      .map(([scheme, text]) => `${scheme} ${text}`.replace(/[\r\n]/g, '')),
  )
  const taskId = fc.oneof(fc.uuid(), hostile).map(pct)
  const target = fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .constantFrom('/token', '/token/introspection', '/token/revocation', '/tasks')
        .map((path) => ({ path, method: 'POST' })),
    },
    { weight: 1, arbitrary: taskId.map((id) => ({ path: `/tasks/${id}`, method: 'GET' })) },
    { weight: 1, arbitrary: taskId.map((id) => ({ path: `/tasks/${id}/complete`, method: 'POST' })) },
    // Now and then a method the endpoint does not take.
    {
      weight: 1,
      arbitrary: fc.record({
        path: fc.constantFrom('/token', '/tasks', '/tasks/x/complete'),
        method: fc.constantFrom('GET', 'PUT', 'DELETE'),
      }),
    },
  )
  return fc
    .record({ target, authorization, body })
    .map(
      ({ target: { path, method }, authorization: auth, body: b }) =>
        ({ path, method, authorization: auth, ...b }) as FuzzRequest,
    )
}

/** A header value fetch accepts (the fuzzed text is Latin-1 only; CR/LF and NUL would not reach us). */
const headerSafe = (text: string) => !/[^\u0020-\u00ff\t]/.test(text)

async function send(request: FuzzRequest): Promise<Response> {
  const headers: Record<string, string> = {}
  if (request.authorization !== undefined && headerSafe(request.authorization))
    headers.authorization = request.authorization
  if (request.contentType) headers['content-type'] = request.contentType
  return fetch(`${server.url}${request.path}`, {
    method: request.method,
    headers,
    ...(request.method === 'POST' && request.body !== undefined ? { body: request.body } : {}),
  })
}

describe('fuzzing the authenticated endpoints without valid credentials', () => {
  it('never answers 5xx or with a token, and writes nothing', async () => {
    const before = await writtenRows(t.db)
    const statuses = new Map<number, number>()
    await fc.assert(
      fc.asyncProperty(arbitraries(), async (request) => {
        const response = await send(request)
        const text = await response.text()
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
        expect(response.status, text).toBeGreaterThanOrEqual(400)
        expect(response.status, text).toBeLessThan(500)
        expect(response.headers.get('content-type')).toMatch(/^application\/json/)
        const body = JSON.parse(text) as Record<string, unknown>
        expect(typeof body.error).toBe('string')
        expect(body).not.toHaveProperty('access_token')
        expect(body).not.toHaveProperty('active')
      }),
      { numRuns: 400 },
    )
    expect(await writtenRows(t.db)).toEqual(before)
    // The run reached past the edge checks: client authentication refused a good share of it.
    expect(statuses.get(401) ?? 0, JSON.stringify([...statuses])).toBeGreaterThan(60)
  }, 60_000)

  it('writes nothing for well-formed requests with a real subject token and a wrong secret or assertion', async () => {
    const before = await writtenRows(t.db)
    const [subject] = seeds as [string]
    const wrongAssertion = await clientAssertion(`${server.issuer}/elsewhere`)
    for (const client of Object.keys(secrets)) {
      for (const auth of [basic(client, 'wrong-secret-0123456789'), undefined]) {
        const params = new URLSearchParams({
          grant_type: TOKEN_EXCHANGE,
          subject_token: subject,
          subject_token_type: ACCESS_TOKEN,
          resource: 'https://tickets.test/',
          ...(auth ? {} : { client_assertion_type: JWT_BEARER, client_assertion: wrongAssertion }),
        })
        const response = await fetch(`${server.url}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth ? { authorization: auth } : {}) },
          body: params,
        })
        expect(response.status).toBe(401)
        expect(response.headers.get('x-decision-id')).toBeNull()
      }
    }
    expect(await writtenRows(t.db)).toEqual(before)
  })
})
