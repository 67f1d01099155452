// Tasks: creation capped by policy, person and parent; task-bound exchanges; completion ends every
// token of the task tree at once; expiry by time; ownership. Races with completion: task-race.test.ts.
import { decodeJwt } from 'jose'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { TOKEN_INVALID } from '../../src/oauth/descriptions.ts'
import { useDatabase } from '../support/database.ts'
import { personToken } from '../support/idp.ts'
import { ACCESS_TOKEN, exchange, exchanged, expectRejection, introspect, tasksCall } from '../support/oauth.ts'
import { useServer } from '../support/server.ts'
import { startTask } from '../support/tasks.ts'

const t = useDatabase()
const server = useServer(t)
const tickets = 'https://tickets.test/'

afterEach(() => {
  vi.useRealTimers()
})

describe('POST /tasks', () => {
  it('creates a task capped by the policy paths and the person token', async () => {
    const before = Date.now()
    const { task } = await startTask(server.url, {
      alice: await personToken({ scope: 'tickets:read tickets:write notes:read' }),
      params: { scope: 'tickets:read tickets:write', expires_in: '900' },
    })
    expect(task).toEqual({
      task_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: 'active',
      delegator: 'alice',
      agent: 'agent-one',
      purpose: 'Answer ticket 42 for Alice',
      resources: [tickets],
      scope: 'tickets:read tickets:write',
      created_at: expect.any(String),
      expires_at: expect.any(String),
      parent_task_id: null,
    })
    const lifetime = (Date.parse(task.expires_at) - before) / 1000
    // The person token lives 600 s: the 900 s requested are capped by it.
    expect(lifetime).toBeGreaterThan(590)
    expect(lifetime).toBeLessThanOrEqual(601)
    const audit = await t.db.selectFrom('audit_events').selectAll().where('task_id', '=', task.task_id).execute()
    expect(audit.map((e) => [e.type, e.actor, e.subject])).toEqual([['task.created', 'agent-one', 'alice']])
  })

  it('accepts JSON bodies and client_secret_post', async () => {
    const alice = await personToken()
    const response = await fetch(`${server.url}/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_id: 'agent-one',
        client_secret: 'agent-one-secret-0123456789',
        subject_token: alice,
        subject_token_type: ACCESS_TOKEN,
        purpose: 'json',
        resource: [tickets],
        scope: 'tickets:read',
      }),
    })
    expect(response.status).toBe(201)
    expect(await response.json()).toMatchObject({ scope: 'tickets:read', resources: [tickets] })
  })
})

describe('task-bound exchanges and completion', () => {
  it('runs the whole flow: person → agent → sub-agent → introspection → complete → all inactive', async () => {
    const { task, alice } = await startTask(server.url)
    const agentToken = await exchanged(server.url, 'agent-one', {
      subject_token: alice,
      resource: tickets,
      task_id: task.task_id,
    })
    expect(decodeJwt(agentToken)).toMatchObject({ sub: 'alice', act: { sub: 'agent-one' }, task_id: task.task_id })
    expect(decodeJwt(agentToken).exp as number).toBeLessThanOrEqual(Date.parse(task.expires_at) / 1000)
    // The sub-agent works from the agent's token: the task is carried along.
    const subToken = await exchanged(server.url, 'sub-agent', {
      subject_token: agentToken,
      resource: tickets,
      scope: 'tickets:read',
    })
    expect(decodeJwt(subToken)).toMatchObject({
      task_id: task.task_id,
      act: { sub: 'sub-agent', act: { sub: 'agent-one' } },
    })
    expect(await introspect(server.url, subToken)).toMatchObject({ active: true, task_id: task.task_id, sub: 'alice' })

    const shown = await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}`)
    expect(await shown.json()).toMatchObject({
      status: 'active',
      completed_at: null,
      outcome: null,
      tokens: { issued: 2, active: 2 },
    })

    const completed = await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}/complete`, {
      outcome: 'succeeded',
    })
    expect(completed.status).toBe(200)
    expect(await completed.json()).toMatchObject({
      task_id: task.task_id,
      status: 'completed',
      outcome: 'succeeded',
      revoked_tokens: 2,
    })
    expect(await introspect(server.url, agentToken)).toEqual({ active: false })
    expect(await introspect(server.url, subToken)).toEqual({ active: false })
    await expectRejection(await exchange(server.url, 'sub-agent', { subject_token: agentToken, resource: tickets }), {
      status: 400,
      error: 'invalid_request',
      error_description: TOKEN_INVALID,
    })

    // Idempotent: completing again changes nothing and revokes nothing more.
    const again = await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}/complete`, { outcome: 'failed' })
    expect(await again.json()).toMatchObject({ status: 'completed', outcome: 'succeeded', revoked_tokens: 0 })
    expect(await (await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}`)).json()).toMatchObject({
      status: 'completed',
      tokens: { issued: 2, active: 0 },
    })
  })

  it('completing a task completes its subtasks and ends their tokens', async () => {
    const { task, alice } = await startTask(server.url)
    const agentToken = await exchanged(server.url, 'agent-one', {
      subject_token: alice,
      resource: tickets,
      task_id: task.task_id,
    })
    const { task: subtask } = await startTask(server.url, {
      client: 'sub-agent',
      alice: agentToken,
      params: { purpose: 'triage ticket 42', scope: 'tickets:read', parent_task_id: task.task_id },
    })
    expect(subtask.parent_task_id).toBe(task.task_id)
    const subToken = await exchanged(server.url, 'sub-agent', {
      subject_token: agentToken,
      resource: tickets,
      scope: 'tickets:read',
      task_id: subtask.task_id,
    })
    expect(decodeJwt(subToken).task_id).toBe(subtask.task_id)

    const completed = await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}/complete`, {
      outcome: 'cancelled',
    })
    expect(await completed.json()).toMatchObject({ status: 'completed', revoked_tokens: 2 })
    expect(await (await tasksCall(server.url, 'sub-agent', `/tasks/${subtask.task_id}`)).json()).toMatchObject({
      status: 'completed',
      outcome: 'cancelled',
    })
    expect(await introspect(server.url, subToken)).toEqual({ active: false })
  })

  it('expires a task at expires_at with no job running: its tokens go inactive', async () => {
    const { task, alice } = await startTask(server.url, { params: { expires_in: '60' } })
    const token = await exchanged(server.url, 'agent-one', {
      subject_token: alice,
      resource: tickets,
      task_id: task.task_id,
    })
    expect(decodeJwt(token).exp as number).toBeLessThanOrEqual(Date.parse(task.expires_at) / 1000)
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.parse(task.expires_at) + 1000)
    expect(await introspect(server.url, token)).toEqual({ active: false })
    expect(await (await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}`)).json()).toMatchObject({
      status: 'expired',
    })
    await expectRejection(
      await exchange(server.url, 'agent-one', { subject_token: alice, resource: tickets, task_id: task.task_id }),
      {
        status: 400,
        error: 'invalid_request',
        error_description: TOKEN_INVALID,
      },
    )
  })

  it('revokes the whole subtree of a revoked token, not its parent', async () => {
    const { task, alice } = await startTask(server.url)
    const one = await exchanged(server.url, 'agent-one', {
      subject_token: alice,
      resource: tickets,
      task_id: task.task_id,
    })
    const two = await exchanged(server.url, 'sub-agent', {
      subject_token: one,
      resource: tickets,
      scope: 'tickets:read',
    })
    const three = await exchanged(server.url, 'sub-sub-agent', { subject_token: two, resource: tickets })
    const response = await fetch(`${server.url}/token/revocation`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from('sub-agent:sub-agent-secret-0123456789').toString('base64')}`,
      },
      body: new URLSearchParams({ token: two }),
    })
    expect(response.status).toBe(200)
    expect(await introspect(server.url, one)).toMatchObject({ active: true })
    expect(await introspect(server.url, two)).toEqual({ active: false })
    expect(await introspect(server.url, three)).toEqual({ active: false })
    const audit = await t.db
      .selectFrom('audit_events')
      .selectAll()
      .where('type', '=', 'token.revoked')
      .where('jti', '=', decodeJwt(two).jti as string)
      .execute()
    expect(audit).toHaveLength(1)
  })
})
