// mandate/resource-server's evaluation calls (AuthZEN, Mandate's profile: POST /access/v1/evaluation
// and /evaluations as the resource's introspector client). Against the real app where the answer is
// Mandate's to give (a policy path fixes it: reads cached 30 s, deletions never, exports denied);
// against servers that refuse, fail or stand in for the contract where the point is what the helper
// does with an answer (fail closed; cache only what may be cached).
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  type Authenticated,
  DENY_REASONS,
  type Evaluation,
  mandateResourceServer,
  type ResourceServer,
  type ResourceServerOptions,
} from '../../sdk/resource-server.ts'
import { applyPath } from '../support/apply-path.ts'
import { useDatabase } from '../support/database.ts'
import { accessToken, exchanged, revoke, secrets, tasksCall } from '../support/oauth.ts'
import { type Running, serveDropping, serveKoa, serveNode } from '../support/resource-server.ts'
import { useServer } from '../support/server.ts'
import { startTask } from '../support/tasks.ts'

const t = useDatabase()
const server = useServer(t)
const TICKETS = 'https://tickets.test/'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const DELETE = { action: 'tickets.delete', object: 'ticket-42' }
const running: Running[] = []

afterAll(async () => {
  await Promise.all(running.map((r) => r.close()))
})
afterEach(() => {
  vi.useRealTimers()
})

/** A helper whose calls to Mandate are counted (and whose evaluation answers are kept, as received). */
function counted(overrides: Partial<ResourceServerOptions> = {}) {
  const calls: Array<{ url: string; status: number; body: unknown; decisionId: string | null }> = []
  const rs = mandateResourceServer({
    issuer: server.issuer,
    resource: TICKETS,
    clientId: 'rs-tickets',
    clientSecret: secrets['rs-tickets'] as string,
    fetch: async (url, init) => {
      const response = await fetch(url, init)
      if (url.includes('/access/v1/')) {
        const body = await response
          .clone()
          .json()
          .catch(() => undefined)
        calls.push({ url, status: response.status, body, decisionId: response.headers.get('x-decision-id') })
      }
      return response
    },
    ...overrides,
  })
  return { rs, calls }
}

/** The token, verified by the helper as a route would have it. */
async function authenticated(rs: ResourceServer, token: string): Promise<Authenticated> {
  const auth = await rs.authenticate(
    new Request('https://tickets.test/tickets/42', { headers: { authorization: `Bearer ${token}` } }),
  )
  if (!auth.ok) throw new Error(`not authenticated: ${auth.reply.body}`)
  return auth
}

/** A decision (no failure): an allow, or a deny with one of the contract's reasons. */
function expectDecided(evaluation: Evaluation | undefined): Exclude<Evaluation, { failure: object }> {
  expect(evaluation?.failure).toBeUndefined()
  const decided = evaluation as Exclude<Evaluation, { failure: object }>
  expect(decided.decision || (DENY_REASONS as readonly string[]).includes(decided.reason)).toBe(true)
  return decided
}

describe('against the real evaluation API', () => {
  beforeAll(async () => {
    // agent-one's client_credentials tokens for tickets get a path of their own (the fixtures bind agent-one
    // on tickets for token exchange only): reads cacheable 30 s, deletions never, and no rule for exports.
    await applyPath(
      t.db,
      'acme/services/agent-one-tickets',
      `  bindings:
    - { client: agent-one, resource: ${TICKETS}, grantType: client_credentials }
  actions:
    - { name: tickets.read, class: read, cache: 30s }
    - { name: tickets.delete, class: destructive }
`,
    )
  })

  it('asks Mandate about a sensitive action and returns its decision and decision id', async () => {
    const { rs, calls } = counted()
    const auth = await authenticated(rs, await accessToken(server.url, 'agent-one', { scope: 'tickets:write' }))
    const evaluation = expectDecided(await rs.authorize(auth, DELETE))
    expect(evaluation.decisionId).toMatch(UUID)
    expect(calls).toHaveLength(1)
    expect(calls[0]).toMatchObject({ url: `${server.issuer}/access/v1/evaluation`, status: 200 })
    expect(calls[0]?.decisionId).toBe(evaluation.decisionId)
  })

  it('keeps an allow of a read for its cache (30 s): the second authorize is served from cache, one call to Mandate', async () => {
    const { rs, calls } = counted()
    const auth = await authenticated(rs, await accessToken(server.url, 'agent-one', { scope: 'tickets:write' }))
    const read = { action: 'tickets.read', object: 'ticket-42' }
    const first = expectDecided(await rs.authorize(auth, read))
    expect(first).toEqual({ decision: true, decisionId: expect.stringMatching(UUID), cached: false })
    expect(calls[0]?.body).toEqual({ decision: true, context: { decision_id: first.decisionId, cache_max_age: 30 } })
    expect(await rs.authorize(auth, read)).toEqual({ ...first, cached: true })
    expect(calls).toHaveLength(1)
    // Another object is another question; and the allow is kept 30 s, not longer.
    expect(await rs.authorize(auth, { ...read, object: 'ticket-43' })).toMatchObject({ cached: false })
    vi.useFakeTimers({ toFake: ['Date'] })
    const start = Date.now()
    vi.setSystemTime(start + 29_000)
    expect(await rs.authorize(auth, read)).toEqual({ ...first, cached: true })
    vi.setSystemTime(start + 31_000)
    const again = expectDecided(await rs.authorize(auth, read))
    expect(again).toEqual({ decision: true, decisionId: expect.stringMatching(UUID), cached: false })
    expect(again.decisionId).not.toBe(first.decisionId)
    expect(calls).toHaveLength(3)
  })

  it('never keeps an allow of a destructive action without a cache: each authorize asks Mandate', async () => {
    const { rs, calls } = counted()
    const auth = await authenticated(rs, await accessToken(server.url, 'agent-one', { scope: 'tickets:write' }))
    const first = expectDecided(await rs.authorize(auth, DELETE))
    expect(first).toEqual({ decision: true, decisionId: expect.stringMatching(UUID), cached: false })
    expect(calls[0]?.body).toEqual({ decision: true, context: { decision_id: first.decisionId } })
    const second = expectDecided(await rs.authorize(auth, DELETE))
    expect(second).toEqual({ decision: true, decisionId: expect.stringMatching(UUID), cached: false })
    expect(second.decisionId).not.toBe(first.decisionId)
    expect(calls.map((c) => c.decisionId)).toEqual([first.decisionId, second.decisionId])
  })

  it('never keeps a deny for an action the path has no rule for (action_not_allowed)', async () => {
    const { rs, calls } = counted()
    const auth = await authenticated(rs, await accessToken(server.url, 'agent-one', { scope: 'tickets:write' }))
    const exportAll = { action: 'tickets.export', object: 'ticket-42' }
    for (let i = 0; i < 2; i++)
      expect(await rs.authorize(auth, exportAll)).toEqual({
        decision: false,
        reason: 'action_not_allowed',
        reasonUser: { en: 'this action is not allowed' },
        decisionId: calls[i]?.decisionId,
        cached: false,
      })
    expect(calls).toHaveLength(2)
    expect(calls[0]?.decisionId).not.toBe(calls[1]?.decisionId)
  })

  it('hears token_inactive for a revoked token, and asks no more about that token until its exp', async () => {
    const { rs, calls } = counted()
    const token = await accessToken(server.url, 'agent-one', { scope: 'tickets:write' })
    const auth = await authenticated(rs, token)
    expect((await revoke(server.url, token, 'agent-one')).status).toBe(200)
    const denied = await rs.authorize(auth, DELETE)
    expect(denied).toEqual({
      decision: false,
      reason: 'token_inactive',
      reasonUser: { en: 'the access token is not active for this resource' },
      decisionId: expect.stringMatching(UUID),
      cached: false,
    })
    // Any action on any object, allowed, uncached or unruled: a dead token never revives.
    const kept = { ...denied, cached: true }
    for (const action of ['tickets.read', 'tickets.delete', 'tickets.export'])
      expect(await rs.authorize(auth, { action, object: 'ticket-7' })).toEqual(kept)
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(auth.claims.exp * 1000 - 1_000)
    expect(await rs.authorize(auth, { action: 'tickets.read', object: 'ticket-8' })).toEqual(kept)
    expect(calls).toHaveLength(1)
    // At exp the token is gone anyway: the entry is too, and Mandate is asked (and answers the same).
    vi.setSystemTime(auth.claims.exp * 1000)
    expect(await rs.authorize(auth, DELETE)).toMatchObject({ decision: false, reason: 'token_inactive', cached: false })
    expect(calls).toHaveLength(2)
  })

  it('hears token_inactive once the token’s task is completed', async () => {
    const { rs } = counted()
    const { task, alice } = await startTask(server.url)
    const token = await exchanged(server.url, 'agent-one', {
      subject_token: alice,
      resource: TICKETS,
      scope: 'tickets:write',
      task_id: task.task_id,
    })
    const auth = await authenticated(rs, token)
    const completed = await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}/complete`, {})
    expect(completed.status).toBe(200)
    expect(await rs.authorize(auth, DELETE)).toMatchObject({ decision: false, reason: 'token_inactive' })
  })

  it('evaluates a batch, one answer per request in order', async () => {
    const { rs, calls } = counted()
    const token = await accessToken(server.url, 'agent-one', { scope: 'tickets:write' })
    const auth = await authenticated(rs, token)
    const live = await rs.authorizeAll(auth, [DELETE, { action: 'tickets.update', object: 'ticket-7' }], 'execute_all')
    expect(live).toHaveLength(2)
    for (const evaluation of live) expect(expectDecided(evaluation).decisionId).toMatch(UUID)
    expect(calls[0]).toMatchObject({ url: `${server.issuer}/access/v1/evaluations`, status: 200 })
    expect((await revoke(server.url, token, 'agent-one')).status).toBe(200)
    const dead = await rs.authorizeAll(auth, [DELETE, DELETE], 'execute_all')
    expect(dead.map((e) => e && !e.decision && !e.failure && e.reason)).toEqual(['token_inactive', 'token_inactive'])
  })

  it('refuses a sensitive route with the reason and decision id only: 401 invalid_token for a dead token', async () => {
    const { rs } = counted()
    const app = await serveKoa(rs, { sensitive: (ctx) => (ctx.method === 'DELETE' ? DELETE : undefined) })
    running.push(app)
    const token = await accessToken(server.url, 'agent-one', { scope: 'tickets:write' })
    expect((await revoke(server.url, token, 'agent-one')).status).toBe(200)
    // Local validation cannot see the revocation; the evaluation of the sensitive action does.
    const read = await fetch(`${app.url}/tickets/42`, { headers: { authorization: `Bearer ${token}` } })
    expect(read.status).toBe(200)
    const response = await fetch(`${app.url}/tickets/42`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
    })
    const body = (await response.json()) as { reason: string; decision_id: string }
    expect({
      status: response.status,
      challenge: response.headers.get('www-authenticate'),
      keys: Object.keys(body),
    }).toEqual({
      status: 401,
      challenge:
        'Bearer error="invalid_token", error_description="the access token is not active", resource_metadata="https://tickets.test/.well-known/oauth-protected-resource"',
      keys: ['reason', 'decision_id'],
    })
    expect(body).toEqual({ reason: 'token_inactive', decision_id: expect.stringMatching(UUID) })
  })

  it('fails closed with 500 when Mandate refuses the helper’s own client (a misconfiguration)', async () => {
    const { rs, calls } = counted({ clientSecret: 'not-the-secret-0000000000' })
    const auth = await authenticated(rs, await accessToken(server.url, 'agent-one', { scope: 'tickets:write' }))
    const evaluation = await rs.authorize(auth, DELETE)
    expect(evaluation).toEqual({
      decision: false,
      failure: { status: 500, detail: 'evaluation API answered HTTP 401: invalid_client' },
    })
    expect(calls.map((c) => c.status)).toEqual([401])
    expect(rs.refusalFor(evaluation, auth)).toEqual({
      status: 500,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
      body: '{"error":"server_error","error_description":"the authorization decision could not be obtained"}',
    })
  })
})

describe('failing closed', () => {
  let rs: ResourceServer
  beforeAll(() => {
    rs = counted().rs
  })

  /** A helper that verifies with the real Mandate but asks `issuer` for its decisions. */
  const askingAt = (issuer: string) => counted({ issuer }).rs

  it('denies with a 503 failure, and caches nothing, when the connection is dropped', async () => {
    const dropping = await serveDropping()
    running.push(dropping)
    const auth = await authenticated(rs, await accessToken(server.url, 'agent-one'))
    const helper = askingAt(dropping.url)
    for (let i = 0; i < 2; i++) {
      const evaluation = await helper.authorize(auth, DELETE)
      expect(evaluation).toMatchObject({ decision: false, failure: { status: 503 } })
      expect(helper.refusalFor(evaluation, auth)).toEqual({
        status: 503,
        headers: { 'content-type': 'application/json', 'cache-control': 'no-store', 'retry-after': '5' },
        body: '{"error":"temporarily_unavailable","error_description":"the authorization decision could not be obtained"}',
      })
    }
    expect(await helper.authorizeAll(auth, [DELETE, DELETE])).toEqual([
      expect.objectContaining({ decision: false, failure: expect.objectContaining({ status: 503 }) }),
      expect.objectContaining({ decision: false, failure: expect.objectContaining({ status: 503 }) }),
    ])
  })

  it.each([
    [
      'a 503',
      (_: IncomingMessage, res: ServerResponse) =>
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"temporarily_unavailable"}'),
      { status: 503, detail: 'evaluation API answered HTTP 503: temporarily_unavailable' },
    ],
    [
      'an HTML 502 from a proxy',
      (_: IncomingMessage, res: ServerResponse) => res.writeHead(502).end('<html>bad gateway</html>'),
      { status: 503, detail: 'evaluation API answered HTTP 502' },
    ],
    [
      'a 200 that is not an answer',
      (_: IncomingMessage, res: ServerResponse) => res.writeHead(200).end('{"decision":"yes"}'),
      { status: 500, detail: 'evaluation API answer is malformed' },
    ],
    [
      'a redirect',
      (_: IncomingMessage, res: ServerResponse) => res.writeHead(307, { location: 'http://127.0.0.1:1/' }).end(),
      { status: 500, detail: 'evaluation API answered HTTP 307' },
    ],
  ])('denies on %s', async (_, answer, failure) => {
    const failing = await serveNode(answer)
    running.push(failing)
    const auth = await authenticated(rs, await accessToken(server.url, 'agent-one'))
    expect(await askingAt(failing.url).authorize(auth, DELETE)).toEqual({ decision: false, failure })
  })

  it('denies when Mandate does not answer within the timeout', async () => {
    const silent = await serveNode(() => {}) // accepts, never answers
    running.push(silent)
    const auth = await authenticated(rs, await accessToken(server.url, 'agent-one'))
    const helper = counted({ issuer: silent.url, timeoutMs: 200 }).rs
    expect(await helper.authorize(auth, DELETE)).toMatchObject({ decision: false, failure: { status: 503 } })
  })
})

describe('the cache, against a stand-in that answers as the contract says', () => {
  // The stand-in speaks only the documented answers; what is under test is what the helper keeps.
  let answers: Array<Record<string, unknown>>
  let asked: Array<{ path: string; body: Record<string, unknown>; authorization: string | undefined }>
  let standIn: Running
  let rs: ResourceServer
  let auth: Authenticated
  const id = (n: number) => `00000000-0000-4000-8000-00000000000${n}`

  beforeAll(async () => {
    standIn = await serveNode(async (req, res) => {
      let raw = ''
      for await (const chunk of req) raw += chunk
      asked.push({ path: req.url ?? '', body: JSON.parse(raw), authorization: req.headers.authorization })
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answers.shift()))
    })
    running.push(standIn)
    rs = counted({ issuer: standIn.url }).rs
    auth = await authenticated(counted().rs, await accessToken(server.url, 'agent-one', { scope: 'tickets:write' }))
  })
  const reset = (...next: Array<Record<string, unknown>>) => {
    answers = next
    asked = []
  }

  it('sends the contract’s request: the token as subject, this resource as type, Basic client auth', async () => {
    reset({ decision: true, context: { decision_id: id(1) } })
    await rs.authorize(auth, { ...DELETE, properties: { priority: 'high' }, actionProperties: { hard: true } })
    expect(asked).toEqual([
      {
        path: '/access/v1/evaluation',
        authorization: `Basic ${Buffer.from(`rs-tickets:${secrets['rs-tickets']}`).toString('base64')}`,
        body: {
          subject: { type: 'access_token', id: auth.token },
          resource: { type: TICKETS, id: 'ticket-42', properties: { priority: 'high' } },
          action: { name: 'tickets.delete', properties: { hard: true } },
        },
      },
    ])
  })

  it('keeps an allow for cache_max_age, per action and object, then asks again', async () => {
    reset(
      { decision: true, context: { decision_id: id(1), cache_max_age: 30 } },
      { decision: true, context: { decision_id: id(2), cache_max_age: 30 } },
      { decision: true, context: { decision_id: id(3) } },
    )
    const object = { action: 'tickets.close', object: 'ticket-1' }
    expect(await rs.authorize(auth, object)).toEqual({ decision: true, decisionId: id(1), cached: false })
    expect(await rs.authorize(auth, object)).toEqual({ decision: true, decisionId: id(1), cached: true })
    expect(await rs.authorize(auth, { ...object, object: 'ticket-2' })).toMatchObject({ decisionId: id(2) })
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 31_000)
    expect(await rs.authorize(auth, object)).toEqual({ decision: true, decisionId: id(3), cached: false })
    expect(asked).toHaveLength(3)
  })

  it('never keeps an allow past the token’s exp, whatever cache_max_age says', async () => {
    reset(
      { decision: true, context: { decision_id: id(1), cache_max_age: 86_400 } },
      { decision: true, context: { decision_id: id(2), cache_max_age: 86_400 } },
    )
    const object = { action: 'tickets.archive', object: 'ticket-1' }
    await rs.authorize(auth, object)
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(auth.claims.exp * 1000 - 1_000)
    expect(await rs.authorize(auth, object)).toMatchObject({ decisionId: id(1), cached: true })
    vi.setSystemTime(auth.claims.exp * 1000)
    expect(await rs.authorize(auth, object)).toMatchObject({ decisionId: id(2), cached: false })
  })

  it.each(DENY_REASONS.filter((reason) => reason !== 'token_inactive'))('never keeps a %s deny', async (reason) => {
    reset(
      { decision: false, context: { decision_id: id(1), reason, cache_max_age: 60 } },
      { decision: true, context: { decision_id: id(2) } },
    )
    const object = { action: `tickets.${reason}`, object: 'ticket-1' }
    expect(await rs.authorize(auth, object)).toMatchObject({ decision: false, reason, cached: false })
    expect(await rs.authorize(auth, object)).toEqual({ decision: true, decisionId: id(2), cached: false })
  })

  it('lets token_inactive shadow every allow it had kept for that token', async () => {
    reset(
      { decision: true, context: { decision_id: id(1), cache_max_age: 60 } },
      { decision: false, context: { decision_id: id(2), reason: 'token_inactive' } },
    )
    const kept = { action: 'tickets.merge', object: 'ticket-1' }
    await rs.authorize(auth, kept)
    await rs.authorize(auth, { action: 'tickets.split', object: 'ticket-9' })
    expect(await rs.authorize(auth, kept)).toMatchObject({ decision: false, reason: 'token_inactive', cached: true })
    expect(asked).toHaveLength(2)
  })

  it('keeps what a batch answered as the same rules allow, and reads a short-circuited batch as unevaluated', async () => {
    const fresh = await authenticated(counted().rs, await accessToken(server.url, 'agent-one'))
    reset({
      evaluations: [
        { decision: true, context: { decision_id: id(1), cache_max_age: 60 } },
        { decision: false, context: { decision_id: id(2), reason: 'approval_required', approval_id: 'a-1' } },
      ],
    })
    const first = { action: 'tickets.lock', object: 'ticket-1' }
    const results = await rs.authorizeAll(fresh, [first, DELETE, DELETE], 'deny_on_first_deny')
    expect(results).toEqual([
      { decision: true, decisionId: id(1), cached: false },
      { decision: false, reason: 'approval_required', approvalId: 'a-1', decisionId: id(2), cached: false },
      undefined,
    ])
    expect(asked[0]?.body.options).toEqual({ evaluations_semantic: 'deny_on_first_deny' })
    expect(await rs.authorize(fresh, first)).toMatchObject({ decisionId: id(1), cached: true })
    expect(asked).toHaveLength(1)
  })
})
