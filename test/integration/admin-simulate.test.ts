// POST /admin/v1/policy-paths:simulate (issue 13): the decision the live policy, or the live policy with
// candidate documents in place, makes for a described request — the same as the real grant's for the same
// facts — and nothing issued or written; every refusal a problem document that writes nothing.
import { decodeJwt } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { rowCount, useDatabase, writtenRows } from '../support/database.ts'
import { personToken } from '../support/idp.ts'
import { accessToken, exchange } from '../support/oauth.ts'
import { useServer } from '../support/server.ts'
import { startTask } from '../support/tasks.ts'

const t = useDatabase()
const server = useServer(t)
let admin: string

const TICKETS = 'https://tickets.test/'
const TE = 'urn:ietf:params:oauth:grant-type:token-exchange'

const simulateWith = (body: unknown, options: { token?: string | null; type?: string } = {}) =>
  fetch(`${server.adminUrl}/admin/v1/policy-paths:simulate`, {
    method: 'POST',
    headers: {
      ...(options.token === null ? {} : { authorization: `Bearer ${options.token ?? admin}` }),
      'content-type': options.type ?? 'application/json',
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })

async function simulated(body: unknown): Promise<Record<string, unknown>> {
  const response = await simulateWith(body)
  const json = (await response.json()) as Record<string, unknown>
  expect(response.status, JSON.stringify(json)).toBe(200)
  return json
}

/** What the tables a request writes to hold, and every policy path version. */
const state = async () => ({ ...(await writtenRows(t.db)), versions: await rowCount(t.db, 'policy_path_versions') })

async function expectProblem(response: Response, status: number, title: string) {
  expect(response.status).toBe(status)
  expect(response.headers.get('content-type')).toContain('application/problem+json')
  const body = (await response.json()) as { title: string; findings?: Array<Record<string, unknown>> }
  expect(body).toMatchObject({ type: 'about:blank', title, status })
  return body
}

const agentOne = (spec: Record<string, unknown>) => ({
  apiVersion: 'mandate/v1',
  kind: 'PolicyPath',
  metadata: { name: 'acme/support/agent-one' },
  spec: {
    bindings: [
      { client: 'agent-one', resource: TICKETS, grantType: TE },
      { client: 'agent-one', resource: 'https://notes.test/', grantType: TE },
    ],
    ...spec,
  },
})

beforeAll(async () => {
  admin = await accessToken(server.url, 'mandate-admin', { resource: 'urn:mandate:admin', scope: 'mandate:admin' })
})

describe('POST /admin/v1/policy-paths:simulate', () => {
  it('answers what the real exchange decides for the same token, and writes nothing', async () => {
    const subject = await accessToken(server.url, 'alice-app', { scope: 'tickets:read tickets:write' })
    const before = await state()
    const request = { client_id: 'agent-one', resource: TICKETS, subject: decodeJwt(subject), scope: 'tickets:read' }
    const answer = await simulated({ request })
    expect(await state()).toEqual(before)
    expect(answer).toMatchObject({
      decision: 'allow',
      reason: 'allowed',
      scope: ['tickets:read'],
      // alice-app's own token: its holder is its subject, so the chain starts with agent-one.
      act: { sub: 'agent-one' },
      lifetime: 120,
      policy: { path: 'acme/support/agent-one', version: 1 },
    })
    expect(answer.constrained_by).toContainEqual({ by: 'policy:acme/support/agent-one', lifetime: true })
    const real = await exchange(server.url, 'agent-one', {
      subject_token: subject,
      resource: TICKETS,
      scope: 'tickets:read',
    })
    const issued = decodeJwt(((await real.json()) as { access_token: string }).access_token)
    expect(issued.act).toEqual(answer.act)
    expect(issued.scope).toBe('tickets:read')
    expect(Math.abs((issued.exp as number) - (answer.expires_at as number))).toBeLessThanOrEqual(1)
  })

  it('decides a candidate in place of the live path: a narrowed scope refused, nothing saved', async () => {
    const subject = decodeJwt(await accessToken(server.url, 'alice-app', { scope: 'tickets:read tickets:write' }))
    const request = { client_id: 'agent-one', resource: TICKETS, subject, scope: 'tickets:write' }
    expect(await simulated({ request })).toMatchObject({ decision: 'allow', scope: ['tickets:write'] })
    const before = await state()
    const candidate = agentOne({ scopes: ['tickets:read'], tokenLifetime: '1m', delegation: { mode: 'delegation' } })
    const answer = await simulated({ candidate, request })
    expect(answer).toMatchObject({
      decision: 'deny',
      reason: 'scope.not_allowed',
      constrained_by: [{ by: 'policy:acme/support/agent-one', scope: ['tickets:write'] }],
      policy: { path: 'acme/support/agent-one', version: 2 },
      candidates: ['acme/support/agent-one'],
    })
    const narrowed = await simulated({ candidate: [candidate], request: { ...request, scope: undefined } })
    expect(narrowed).toMatchObject({ decision: 'allow', scope: ['tickets:read'], lifetime: 60 })
    expect(await state()).toEqual(before)
  })

  it('describes a subject by its claims: a foreign person, an earlier actor chain, an intermediary', async () => {
    const foreign = decodeJwt(await personToken({ scope: 'tickets:read', expiresIn: 90 }))
    const answer = await simulated({
      request: { client_id: 'agent-one', resource: 'tickets', subject: foreign },
    })
    expect(answer).toMatchObject({ decision: 'allow', scope: ['tickets:read'], act: { sub: 'agent-one' } })
    // Chain of the subject given as actor_chain: agent-one → sub-agent → sub-sub-agent is depth 3, allowed.
    const deep = await simulated({
      request: {
        client_id: 'sub-sub-agent',
        resource: TICKETS,
        subject: { sub: 'alice', iss: 'self', scope: 'tickets:read', client_id: 'sub-agent' },
        actor_chain: ['sub-sub-agent', 'sub-agent', 'agent-one'],
      },
    })
    expect(deep).toMatchObject({
      decision: 'allow',
      act: { sub: 'sub-sub-agent', act: { sub: 'sub-agent', act: { sub: 'agent-one' } } },
    })
    const unknownIssuer = await simulated({
      request: { client_id: 'agent-one', resource: TICKETS, subject: { ...foreign, iss: 'https://evil.test' } },
    })
    expect(unknownIssuer).toMatchObject({ decision: 'deny', reason: 'subject_token.invalid' })
    const intermediary = await simulated({
      request: {
        client_id: 'gateway',
        resource: TICKETS,
        subject: foreign,
        actor_chain: ['agent-two'],
      },
    })
    expect(intermediary).toMatchObject({ decision: 'allow', act: { sub: 'agent-two' } })
    const untrusted = await simulated({
      request: { client_id: 'gateway', resource: TICKETS, subject: foreign, actor_chain: ['agent-one'] },
    })
    expect(untrusted).toMatchObject({
      decision: 'deny',
      reason: 'actor_token.not_bound_to_client',
      detail: 'agent-one',
    })
  })

  it('decides client_credentials, and an action on the token that would be issued', async () => {
    const cc = await simulated({
      request: { client_id: 'agent-one', resource: 'https://other.test/api', grant_type: 'client_credentials' },
    })
    expect(cc).toMatchObject({
      decision: 'allow',
      scope: ['other:read'],
      lifetime: 60,
      constrained_by: [{ by: 'policy:acme/services/agent-one-other', lifetime: true }],
      policy: { path: 'acme/services/agent-one-other' },
    })
    const refused = await simulated({
      request: {
        client_id: 'agent-one',
        resource: 'https://other.test/api',
        grant_type: 'client_credentials',
        scope: 'other:write',
      },
    })
    expect(refused).toMatchObject({
      decision: 'deny',
      reason: 'scope.not_allowed',
      constrained_by: [{ by: 'policy:acme/services/agent-one-other', scope: ['other:write'] }],
    })
    const candidate = agentOne({
      scopes: ['tickets:read', 'tickets:write'],
      actions: [
        { name: 'tickets.read', class: 'read' },
        { name: 'tickets.delete', class: 'destructive', scopes: ['tickets:write'], approval: 'delegator' },
      ],
    })
    const subject = { sub: 'alice', scope: 'tickets:read', client_id: 'alice-app' }
    const request = { client_id: 'agent-one', resource: TICKETS, subject }
    expect(await simulated({ candidate, request: { ...request, action: 'tickets.read' } })).toMatchObject({
      decision: 'allow',
      evaluation: { action: 'tickets.read', decision: 'allow', requirement: { class: 'read' } },
    })
    expect(await simulated({ candidate, request: { ...request, action: 'tickets.delete' } })).toMatchObject({
      evaluation: { action: 'tickets.delete', decision: 'deny', reason: 'insufficient_scope' },
    })
    expect(await simulated({ candidate, request: { ...request, action: 'tickets.close' } })).toMatchObject({
      evaluation: { decision: 'deny', reason: 'action_not_allowed' },
    })
    // Refused exchange: no token, so the action is decided on an inactive one.
    expect(
      await simulated({ candidate, request: { ...request, scope: 'notes:read', action: 'tickets.read' } }),
    ).toMatchObject({ decision: 'deny', evaluation: { decision: 'deny', reason: 'token_inactive' } })
  })

  it('reads a stored task by id (live, its delegator) or decides a described one', async () => {
    const { task, alice } = await startTask(server.url)
    const subject = decodeJwt(alice)
    const stored = await simulated({
      request: { client_id: 'agent-one', resource: TICKETS, subject, task: task.task_id },
    })
    expect(stored).toMatchObject({ decision: 'allow' })
    const real = await exchange(server.url, 'agent-one', {
      subject_token: alice,
      resource: TICKETS,
      task_id: task.task_id,
    })
    expect(real.status).toBe(200)
    const other = await simulated({
      request: { client_id: 'agent-one', resource: TICKETS, subject: { ...subject, sub: 'bob' }, task: task.task_id },
    })
    expect(other).toMatchObject({
      decision: 'deny',
      reason: 'task.invalid',
      detail: 'the subject is not the task delegator',
    })
    const required = { client_id: 'agent-two', resource: TICKETS, subject }
    expect(await simulated({ request: required })).toMatchObject({ decision: 'deny', reason: 'request.task_required' })
    expect(await simulated({ request: { ...required, task: { expires_in: 30 } } })).toMatchObject({
      decision: 'allow',
      lifetime: 30,
      constrained_by: expect.arrayContaining([{ by: 'task', lifetime: true }]),
    })
    expect(await simulated({ request: { ...required, task: { live: false } } })).toMatchObject({
      decision: 'deny',
      reason: 'task.invalid',
    })
  })

  it('refuses without an admin token (401), a malformed body or request (400), a bad candidate (422): nothing written', async () => {
    const notAdmin = await accessToken(server.url, 'agent-one', { scope: 'tickets:read' })
    const before = await state()
    const request = { client_id: 'agent-one', resource: TICKETS, subject: { sub: 'alice' } }
    const unauthenticated = await simulateWith({ request }, { token: null })
    expect(unauthenticated.status).toBe(401)
    expect((await simulateWith({ request }, { token: notAdmin })).status).toBe(401)
    await expectProblem(await simulateWith('not json'), 400, 'Bad request')
    await expectProblem(await simulateWith({ request }, { type: 'text/plain' }), 400, 'Bad request')
    await expectProblem(await simulateWith({}), 400, 'Bad request')
    await expectProblem(await simulateWith({ request, extra: 1 }), 400, 'Bad request')
    const bad = await expectProblem(await simulateWith({ request: { ...request, scope: 7 } }), 400, 'Bad request')
    expect(bad.findings).toEqual([
      { severity: 'error', code: 'schema', message: 'Invalid input', path: '/request/scope' },
    ])
    const noSubject = await expectProblem(
      await simulateWith({ request: { ...request, subject: undefined } }),
      400,
      'Bad request',
    )
    expect(noSubject.findings).toEqual([
      expect.objectContaining({ path: '/request/subject', message: 'a token exchange needs the subject token claims' }),
    ])
    await expectProblem(
      await simulateWith({ request: { ...request, task: 'not-a-uuid', grant_type: 'password' } }),
      400,
      'Bad request',
    )
    const invalid = await expectProblem(
      await simulateWith({ request, candidate: agentOne({ scopes: ['tickets:read'], tokenLifetime: 'soon' }) }),
      422,
      'Invalid document',
    )
    expect(invalid.findings).toEqual([
      expect.objectContaining({ severity: 'error', path: '/spec/tokenLifetime', line: expect.any(Number) }),
    ])
    const unknownClient = await expectProblem(
      await simulateWith({
        request,
        candidate: agentOne({ delegation: { actors: ['nobody'] } }),
      }),
      422,
      'Invalid document',
    )
    expect(unknownClient.findings?.[0]).toMatchObject({ severity: 'error', code: 'reference' })
    await expectProblem(await simulateWith({ request, candidate: 'acme' }), 400, 'Bad request')
    expect(await state()).toEqual(before)
  })
})
