// Approvals: a person in the loop for an action whose rule says `approval: delegator`. Pending → approved →
// used once → spent; refused; expired; answered by anyone but the delegator (refused); the webhook that
// announces a request; the admin API, the CLI and the task's actions timeline.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { APPROVAL_REQUESTED_EVENT } from '../../src/approvals/webhook.ts'
import { applyDocuments } from '../../src/manifests/apply.ts'
import { applyAgentOneActions } from '../support/apply-path.ts'
import { useDatabase, writtenRows } from '../support/database.ts'
import { evaluate } from '../support/evaluate.ts'
import { personToken } from '../support/idp.ts'
import { accessToken, exchanged } from '../support/oauth.ts'
import { TEST_APPLY, useServer } from '../support/server.ts'
import { startTask } from '../support/tasks.ts'

const t = useDatabase()
const server = useServer(t)
const tickets = 'https://tickets.test/'
const TE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const received: string[] = []
let receiver: Server

beforeAll(async () => {
  await applyAgentOneActions(
    t.db,
    `
    - { name: tickets.read, class: read }
    - { name: tickets.delete, class: destructive, task: required, approval: delegator }
`,
  )
  receiver = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => (body += chunk))
    req.on('end', () => {
      received.push(body)
      res.writeHead(202).end()
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  const dir = mkdtempSync(join(tmpdir(), 'mandate-approvals-'))
  writeFileSync(
    join(dir, 'agent.yaml'),
    `apiVersion: mandate/v1
kind: Client
metadata: { name: agent-one, description: an agent with client_credentials }
spec:
  profile: agent
  secret: agent-one-secret-0123456789
  grantTypes: [client_credentials, ${TE}]
  scopes: [tickets:read, tickets:write, notes:read, other:read, other:write]
  approvalWebhook: http://127.0.0.1:${(receiver.address() as AddressInfo).port}/approvals
`,
  )
  expect((await applyDocuments(t.db, [dir], TEST_APPLY)).findings).toEqual([])
})
afterAll(() => new Promise((resolve) => receiver?.close(resolve)))

/** A task started with a person token issued two minutes ago (the agent holds it), and the agent's token. */
async function agentToken() {
  const old = await personToken({ iat: Math.floor(Date.now() / 1000) - 120 })
  const { task } = await startTask(server.url, { alice: old, params: { scope: 'tickets:read tickets:write' } })
  const token = await exchanged(server.url, 'agent-one', {
    subject_token: old,
    resource: tickets,
    task_id: task.task_id,
  })
  return { task, token, old }
}

const answer = (approvalId: string, token: string | undefined, decision = 'approve') =>
  fetch(`${server.url}/approvals/${approvalId}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: `decision=${decision}`,
  })

/**
 * The person's own token, issued after the request: in a later second (times are whole seconds, and a token of
 * the request's second may be one the agent was handed just before it asked).
 */
async function personTokenAfterRequest(): Promise<string> {
  await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 5))
  return personToken()
}

const del = (token: string, object = 'ticket-42') => evaluate(server.url, { token, action: 'tickets.delete', object })

describe('approval: delegator', () => {
  it('asks the person once, answers true for one use after they approve, then asks again', async () => {
    const { task, token } = await agentToken()
    const first = await del(token)
    expect(first).toEqual({
      decision: false,
      context: {
        decision_id: expect.any(String),
        reason: 'approval_required',
        reason_user: { en: 'the person must approve this action first' },
        approval_id: expect.any(String),
      },
    })
    const approvalId = first.context.approval_id as string
    // Asked again while pending: the same request, not a second one.
    expect((await del(token)).context.approval_id).toBe(approvalId)
    // Another object is another request.
    expect((await del(token, 'ticket-43')).context.approval_id).not.toBe(approvalId)

    // The webhook tells the agent's product, signed by Mandate.
    for (let i = 0; i < 50 && received.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 100))
    const jwks = (await (await fetch(`${server.url}/jwks`)).json()) as JSONWebKeySet
    const events = await Promise.all(
      received.map(
        async (set) =>
          (
            await jwtVerify(set, createLocalJWKSet(jwks), {
              issuer: server.issuer,
              audience: 'agent-one',
              typ: 'secevent+jwt',
            })
          ).payload.events as Record<string, { approval_id: string }>,
      ),
    )
    expect(events.map((e) => e[APPROVAL_REQUESTED_EVENT]?.approval_id)).toContain(approvalId)
    expect(events.find((e) => e[APPROVAL_REQUESTED_EVENT]?.approval_id === approvalId)).toEqual({
      [APPROVAL_REQUESTED_EVENT]: {
        approval_id: approvalId,
        answer_uri: `${server.issuer}/approvals/${approvalId}`,
        delegator: 'alice',
        delegator_issuer: 'test-idp',
        agent: 'agent-one',
        actor_chain: ['agent-one'],
        task_id: task.task_id,
        resource: tickets,
        object_id: 'ticket-42',
        action: 'tickets.delete',
        expires_at: expect.any(Number),
      },
    })

    // The person sees it, with a token of their own, and approves.
    const alice = await personTokenAfterRequest()
    const view = await fetch(`${server.url}/approvals/${approvalId}`, { headers: { authorization: `Bearer ${alice}` } })
    expect(await view.json()).toMatchObject({
      approval_id: approvalId,
      status: 'pending',
      action: 'tickets.delete',
      agent: 'agent-one',
    })
    const approved = await answer(approvalId, alice)
    expect(approved.status).toBe(200)
    expect(await approved.json()).toMatchObject({ status: 'approved', decided_by: 'test-idp:alice' })

    const used = await del(token)
    expect(used).toEqual({ decision: true, context: { decision_id: expect.any(String) } })
    const row = await t.db
      .selectFrom('approvals')
      .selectAll()
      .where('approval_id', '=', approvalId)
      .executeTakeFirstOrThrow()
    expect(row).toMatchObject({ status: 'used', used_decision_id: used.context.decision_id })
    expect(
      await t.db
        .selectFrom('decisions')
        .select(['approval_id', 'result'])
        .where('decision_id', '=', used.context.decision_id as string)
        .executeTakeFirstOrThrow(),
    ).toEqual({ approval_id: approvalId, result: 'allow' })
    // Spent: the next deletion needs a new approval; answering the spent one again is refused.
    const again = await del(token)
    expect(again).toMatchObject({ decision: false, context: { reason: 'approval_required' } })
    expect(again.context.approval_id).not.toBe(approvalId)
    const late = await answer(approvalId, alice)
    expect({ status: late.status, body: await late.json() }).toEqual({
      status: 409,
      body: {
        error: 'invalid_request',
        error_description: 'the approval is no longer pending (answered, used or expired)',
      },
    })
    const audit = await t.db
      .selectFrom('audit_events')
      .select(['type', 'actor', 'subject'])
      .where('type', 'like', 'approval.%')
      .execute()
    expect(audit).toContainEqual({ type: 'approval.approved', actor: 'test-idp:alice', subject: 'alice' })
  })

  it('answers approval_denied once the person refuses, until the refusal expires', async () => {
    const { token } = await agentToken()
    const approvalId = (await del(token)).context.approval_id as string
    const refused = await answer(approvalId, await personTokenAfterRequest(), 'deny')
    expect(await refused.json()).toMatchObject({ status: 'denied' })
    expect(await del(token)).toMatchObject({
      decision: false,
      context: { reason: 'approval_denied', approval_id: approvalId },
    })
    await t.db
      .updateTable('approvals')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('approval_id', '=', approvalId)
      .execute()
    const fresh = await del(token)
    expect(fresh).toMatchObject({ decision: false, context: { reason: 'approval_required' } })
    expect(fresh.context.approval_id).not.toBe(approvalId)
  })

  it('never uses an expired approval, and refuses to answer one', async () => {
    const { token } = await agentToken()
    const approvalId = (await del(token)).context.approval_id as string
    const alice = await personTokenAfterRequest()
    expect((await answer(approvalId, alice)).status).toBe(200)
    await t.db
      .updateTable('approvals')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('approval_id', '=', approvalId)
      .execute()
    expect(await del(token)).toMatchObject({ decision: false, context: { reason: 'approval_required' } })
    const pending = (await del(token)).context.approval_id as string
    await t.db
      .updateTable('approvals')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('approval_id', '=', pending)
      .execute()
    expect((await answer(pending, await personTokenAfterRequest())).status).toBe(409)
  })

  it('refuses an answer from anyone but the delegator, with a token of their own issued after the request', async () => {
    const { token, old } = await agentToken()
    const approvalId = (await del(token)).context.approval_id as string
    const notFound = { status: 404, body: { error: 'not_found', error_description: 'approval not found' } }
    const candidates = [
      token, // the agent's delegated token (sub alice, with act)
      old, // alice's token the agent was handed to start the task
      await personToken({ sub: 'bob' }),
      await accessToken(server.url, 'alice', { scope: 'tickets:read' }), // sub alice but issuer self, not test-idp
    ]
    const before = await writtenRows(t.db)
    for (const candidate of candidates) {
      const response = await answer(approvalId, candidate)
      expect({ status: response.status, body: await response.json() }).toEqual(notFound)
    }
    const noToken = await answer(approvalId, undefined)
    expect({
      status: noToken.status,
      challenge: noToken.headers.get('www-authenticate'),
      body: await noToken.json(),
    }).toEqual({
      status: 401,
      challenge: 'Bearer realm="mandate-approvals"',
      body: { error: 'invalid_token', error_description: 'the person\u2019s access token is required' },
    })
    const badToken = await answer(approvalId, 'not-a-jwt')
    expect({ status: badToken.status, challenge: badToken.headers.get('www-authenticate') }).toEqual({
      status: 401,
      challenge: 'Bearer realm="mandate-approvals", error="invalid_token"',
    })
    const badDecision = await answer(approvalId, await personToken(), 'maybe')
    expect(await badDecision.json()).toEqual({
      error: 'invalid_request',
      error_description: 'decision must be approve or deny',
    })
    const unknown = await answer('00000000-0000-4000-8000-000000000000', await personToken())
    expect(unknown.status).toBe(404)
    expect(await writtenRows(t.db)).toEqual(before)
    const row = await t.db
      .selectFrom('approvals')
      .select('status')
      .where('approval_id', '=', approvalId)
      .executeTakeFirstOrThrow()
    expect(row.status).toBe('pending')
  })
})

describe('bounds', () => {
  it('asks one person at most 20 unanswered questions from one agent, then answers rate_exceeded and asks nothing', async () => {
    const { token } = await agentToken()
    const before = await t.db
      .selectFrom('approvals')
      .select(t.db.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow()
    const pending = await t.db
      .selectFrom('approvals')
      .select(t.db.fn.countAll<string>().as('n'))
      .where('holder', '=', 'agent-one')
      .where('delegator', '=', 'alice')
      .where('status', '=', 'pending')
      .where('expires_at', '>', new Date())
      .executeTakeFirstOrThrow()
    const room = 20 - Number(pending.n)
    for (let i = 0; i < room; i++)
      expect(await del(token, `flood-${i}`)).toMatchObject({ context: { reason: 'approval_required' } })
    const over = await del(token, 'flood-over')
    expect(over).toEqual({
      decision: false,
      context: {
        decision_id: expect.any(String),
        reason: 'rate_exceeded',
        reason_user: { en: 'this action was taken too often for this task; retry later' },
      },
    })
    const after = await t.db
      .selectFrom('approvals')
      .select(t.db.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow()
    expect(Number(after.n) - Number(before.n)).toBe(room)
    // An approval already asked for is still answered with its id.
    expect((await del(token, 'flood-0')).context.reason).toBe('approval_required')
    await t.db
      .updateTable('approvals')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('holder', '=', 'agent-one')
      .where('status', '=', 'pending')
      .execute()
  })
})

describe('on record', () => {
  it('shows approvals in the admin API and the task actions timeline', async () => {
    const { task, token } = await agentToken()
    await evaluate(server.url, { token, action: 'tickets.read' })
    const approvalId = (await del(token)).context.approval_id as string
    const adminToken = await accessToken(server.url, 'mandate-admin', {
      resource: 'urn:mandate:admin',
      scope: 'mandate:admin',
    })
    const admin = async (path: string) =>
      (
        await fetch(`${server.adminUrl}${path}`, { headers: { authorization: `Bearer ${adminToken}` } })
      ).json() as Promise<Record<string, unknown>>
    expect(await admin(`/admin/v1/approvals/${approvalId}`)).toMatchObject({
      approval_id: approvalId,
      status: 'pending',
      task_id: task.task_id,
    })
    const pending = (await admin(`/admin/v1/approvals?status=pending&task_id=${task.task_id}`)).approvals as Array<{
      approval_id: string
    }>
    expect(pending.map((a) => a.approval_id)).toEqual([approvalId])
    expect(await admin('/admin/v1/approvals?status=maybe')).toEqual({
      error: 'invalid_request',
      error_description: 'status must be one of pending, approved, denied, used, expired',
    })
    const detail = await admin(`/admin/v1/tasks/${task.task_id}`)
    expect(detail.actions).toEqual([
      expect.objectContaining({
        action: 'tickets.read',
        result: 'allow',
        reason: 'allowed',
        agent: 'agent-one',
        asked_by: 'rs-tickets',
        object_id: 'ticket-42',
      }),
      expect.objectContaining({
        action: 'tickets.delete',
        result: 'deny',
        reason: 'approval_required',
        approval_id: approvalId,
      }),
    ])
    expect(detail.approvals).toEqual([expect.objectContaining({ approval_id: approvalId, status: 'pending' })])
  })
})
