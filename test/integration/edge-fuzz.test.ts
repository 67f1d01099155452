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

/** Hostile strings, real tokens mutated, and forged JWTs (any header, any claims). */
function values() {
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
    .tuple(
      fc.constantFrom(...seeds),
      fc.nat(),
      fc.constantFrom('flip', 'cut', 'swap', 'none', 'header', 'claims'),
      hostile,
    )
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
        case 'header': {
          // A header that is not JSON at all, in front of claims carrying the hostile value.
          const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>
          return `AAAA.${enc({ ...claims, iss: value, sub: value })}.${signature}`
        }
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
  return { hostile, value }
}

function arbitraries() {
  const { hostile, value } = values()
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

/** RFC 9449 proofs of every broken kind: random keys (off the curve, symmetric, private), claims, algs. */
function dpopHeaders(value: fc.Arbitrary<string>) {
  const coordinate = fc
    .uint8Array({ minLength: 0, maxLength: 40 })
    .map((bytes) => Buffer.from(bytes).toString('base64url'))
  const jwk = fc.oneof(
    fc.record({
      kty: fc.constant('EC'),
      crv: fc.constantFrom('P-256', 'P-384', 'secp256k1', 'X'),
      x: coordinate,
      y: coordinate,
    }),
    fc.record({ kty: fc.constant('OKP'), crv: fc.constantFrom('Ed25519', 'X25519'), x: coordinate }),
    fc.record({ kty: fc.constant('RSA'), n: coordinate, e: fc.constantFrom('AQAB', 'Aw', '') }),
    fc.record({ kty: fc.constant('oct'), k: coordinate }),
    fc.record({ kty: fc.constant('EC'), crv: fc.constant('P-256'), x: coordinate, y: coordinate, d: coordinate }),
    fc.jsonValue({ maxDepth: 2 }),
  )
  const header = fc.record(
    { alg: fc.constantFrom('ES256', 'EdDSA', 'RS256', 'HS256', 'none'), typ: fc.constantFrom('dpop+jwt', 'JWT'), jwk },
    { requiredKeys: [] },
  )
  const claims = fc.record(
    {
      htm: fc.constantFrom('POST', 'GET'),
      htu: fc.constantFrom('http://127.0.0.1/token', 'x', ''),
      jti: fc.oneof(fc.uuid(), fc.string()),
      iat: fc.oneof(fc.integer(), fc.constant(Math.floor(Date.now() / 1000))),
      nonce: fc.string(),
      ath: fc.string(),
    },
    { requiredKeys: [] },
  )
  const proof = fc
    .tuple(header, claims, fc.uint8Array({ maxLength: 80 }))
    .map(([h, c, signature]) => `${enc(h)}.${enc(c)}.${Buffer.from(signature).toString('base64url')}`)
  return fc.oneof(fc.constant(undefined), proof, value)
}

describe('fuzzing with valid client credentials', () => {
  it('never answers 5xx or with a token, never creates a token or a task, and records only denials', async () => {
    const { hostile, value } = values()
    const maybe = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined })
    const exchange = fc.record({
      subject_token: value,
      subject_token_type: fc.oneof(fc.constantFrom(ACCESS_TOKEN, JWT), hostile),
      actor_token: maybe(value),
      actor_token_type: maybe(fc.oneof(fc.constant(ACCESS_TOKEN), hostile)),
      resource: maybe(fc.oneof(fc.constant('https://tickets.test/'), hostile)),
      scope: maybe(hostile),
      task_id: maybe(hostile),
    })
    const task = fc.record({
      subject_token: value,
      subject_token_type: fc.oneof(fc.constant(ACCESS_TOKEN), hostile),
      purpose: fc.oneof(hostile, fc.constant('\ud800 unpaired')),
      resource: maybe(fc.oneof(fc.constant('https://tickets.test/'), hostile)),
      scope: maybe(hostile),
      parent_task_id: maybe(hostile),
    })
    const request = fc.oneof(
      fc.record({ path: fc.constant('/token'), params: exchange, json: fc.constant(false) }),
      fc.record({ path: fc.constant('/tasks'), params: task, json: fc.boolean() }),
      fc.record({
        path: fc.constantFrom('/token/introspection', '/token/revocation'),
        params: fc.record({ token: value }),
        json: fc.constant(false),
      }),
    )
    const before = await writtenRows(t.db)
    const allowed = () =>
      t.db
        .selectFrom('decisions')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('result', '=', 'allow')
        .executeTakeFirstOrThrow()
        .then((row) => Number(row.n))
    const allowedBefore = await allowed()
    await fc.assert(
      fc.asyncProperty(request, dpopHeaders(value), async ({ path, params, json }, dpop) => {
        const fields = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined)) as Record<
          string,
          string
        >
        const body = json
          ? JSON.stringify(fields)
          : new URLSearchParams(path === '/token' ? { grant_type: TOKEN_EXCHANGE, ...fields } : fields).toString()
        const caller = path.startsWith('/token/') ? 'rs-tickets' : 'agent-one'
        const headers: Record<string, string> = {
          authorization: basic(caller, secrets[caller] as string),
          'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded',
          ...(dpop !== undefined && headerSafe(dpop) ? { dpop } : {}),
        }
        const response = await fetch(`${server.url}${path}`, { method: 'POST', headers, body })
        const text = await response.text()
        expect(response.status, text).toBeLessThan(500)
        if (response.status === 200 && path.startsWith('/token/')) {
          // Introspection of garbage is inactive; revocation of garbage is a no-op.
          expect(text === '' || JSON.parse(text).active === false, text).toBe(true)
          return
        }
        expect(response.status, text).toBeGreaterThanOrEqual(400)
        expect(JSON.parse(text)).not.toHaveProperty('access_token')
      }),
      { numRuns: 300 },
    )
    const after = await writtenRows(t.db)
    expect({ issued_tokens: after.issued_tokens, tasks: after.tasks }).toEqual({
      issued_tokens: before.issued_tokens,
      tasks: before.tasks,
    })
    // Every exchange refused after authentication is a decision record: a denial, never an allow.
    expect(await allowed()).toBe(allowedBefore)
  }, 90_000)
})
