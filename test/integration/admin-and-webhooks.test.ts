// The admin API (lineage, decisions, audit) behind admin bearer tokens, and revocation webhooks:
// a signed SET the receiver verifies with our JWKS, retried with backoff when delivery fails.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLocalJWKSet, decodeJwt, type JSONWebKeySet, jwtVerify } from 'jose'
import { afterAll, describe, expect, it } from 'vitest'
import { applyDocuments } from '../../src/manifests/apply.ts'
import { TASK_COMPLETED_EVENT } from '../../src/tasks/webhooks.ts'
import { useDatabase } from '../support/database.ts'
import { personToken } from '../support/idp.ts'
import { ACCESS_TOKEN, accessToken, exchange, exchanged, tasksCall } from '../support/oauth.ts'
import { TEST_APPLY, useServer } from '../support/server.ts'
import { startTask } from '../support/tasks.ts'

const t = useDatabase()
const server = useServer(t)
const tickets = 'https://tickets.test/'

async function flow() {
  const { task, alice } = await startTask(server.url, { params: { purpose: 'Close ticket 7' } })
  const agent = await exchanged(server.url, 'agent-one', {
    subject_token: alice,
    resource: tickets,
    task_id: task.task_id,
  })
  const sub = await exchanged(server.url, 'sub-agent', {
    subject_token: agent,
    resource: tickets,
    scope: 'tickets:read',
  })
  const denied = await exchange(server.url, 'sub-agent', {
    subject_token: agent,
    resource: tickets,
    scope: 'tickets:write',
  })
  return { task, agent, sub, deniedId: denied.headers.get('x-decision-id') as string }
}

const admin = async (path: string, token?: string) =>
  fetch(`${server.adminUrl}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {})

describe('admin API', () => {
  it('answers 401 to anything without an admin token', async () => {
    const notAdmin = await accessToken(server.url, 'agent-one')
    for (const [path, token] of [
      ['/admin/v1/audit', undefined],
      ['/admin/v1/audit', notAdmin],
      ['/admin/v1/audit', 'not-a-token'],
    ] as const) {
      const response = await admin(path, token)
      expect(response.status).toBe(401)
      expect(response.headers.get('www-authenticate')).toBe(
        'Bearer realm="mandate-admin", error="invalid_token", DPoP realm="mandate-admin", error="invalid_token", algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"',
      )
      expect(await response.json()).toEqual({
        error: 'invalid_token',
        error_description: 'admin authentication is required',
      })
    }
    // An unknown path is not found for everyone: the routes are no secret (docs/admin-api.md).
    const unknown = await admin('/anything', undefined)
    expect({ status: unknown.status, body: await unknown.json() }).toEqual({
      status: 404,
      body: { error: 'not_found', error_description: 'no such endpoint' },
    })
  })

  it('shows a task tree, token lineage, decisions with the full chain, and the audit trail', async () => {
    const { task, agent, sub, deniedId } = await flow()
    const adminToken = await accessToken(server.url, 'mandate-admin', {
      resource: 'urn:mandate:admin',
      scope: 'mandate:admin',
    })

    const detail = (await (await admin(`/admin/v1/tasks/${task.task_id}`, adminToken)).json()) as Record<
      string,
      unknown
    >
    expect(detail.task).toMatchObject({
      task_id: task.task_id,
      status: 'active',
      delegator: 'alice',
      agent: 'agent-one',
      purpose: 'Close ticket 7',
      tokens: { issued: 2, active: 2 },
    })
    expect(detail.subtasks).toEqual([])
    expect(
      (detail.token_tree as Array<Record<string, unknown>>).map((x) => [
        x.jti,
        x.parent_jti,
        x.client_id,
        x.actor_chain,
        x.active,
      ]),
    ).toEqual([
      [decodeJwt(agent).jti, null, 'agent-one', ['agent-one'], true],
      [decodeJwt(sub).jti, decodeJwt(agent).jti, 'sub-agent', ['sub-agent', 'agent-one'], true],
    ])

    const lineage = (await (
      await admin(`/admin/v1/tokens/${decodeJwt(agent).jti}/lineage`, adminToken)
    ).json()) as Record<string, unknown>
    expect(lineage.token).toMatchObject({
      jti: decodeJwt(agent).jti,
      sub: 'alice',
      aud: [tickets],
      active: true,
      task_id: task.task_id,
    })
    expect(lineage.ancestors).toEqual([])
    expect((lineage.descendants as Array<{ jti: string }>).map((d) => d.jti)).toEqual([decodeJwt(sub).jti])

    const decisions = (await (await admin(`/admin/v1/decisions?task_id=${task.task_id}`, adminToken)).json()) as {
      decisions: Array<Record<string, unknown>>
    }
    expect(decisions.decisions.map((d) => [d.result, d.reason, d.client_id])).toEqual([
      ['deny', 'scope.not_allowed', 'sub-agent'],
      ['allow', 'allowed', 'sub-agent'],
      ['allow', 'allowed', 'agent-one'],
    ])
    const denied = await (await admin(`/admin/v1/decisions/${deniedId}`, adminToken)).json()
    expect(denied).toMatchObject({
      decision_id: deniedId,
      result: 'deny',
      reason: 'scope.not_allowed',
      subject: 'alice',
      actor_chain: ['sub-agent', 'agent-one'],
      requested_scope: 'tickets:write',
      granted_scope: null,
      // The level of the path that does not allow the requested scope.
      constrained_by: [{ by: 'policy:acme/support/sub-agent', scope: ['tickets:write'] }],
      policy_path: 'acme/support/sub-agent',
      policy_version: 1,
      task_id: task.task_id,
      task: { purpose: 'Close ticket 7', delegator: 'alice' },
    })

    await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}/complete`, {})
    const audit = (await (await admin(`/admin/v1/audit?task_id=${task.task_id}`, adminToken)).json()) as {
      events: Array<Record<string, unknown>>
    }
    expect(audit.events.map((e) => [e.type, e.actor])).toEqual([
      ['task.completed', 'agent-one'],
      ['token_exchange.denied', 'sub-agent'],
      ['token_exchange.issued', 'sub-agent'],
      ['token_exchange.issued', 'agent-one'],
      ['task.created', 'agent-one'],
    ])
    for (const event of audit.events)
      expect(event).toMatchObject({ time: expect.any(String), request_id: expect.any(String) })
    expect(
      (await (await admin(`/admin/v1/tokens/${decodeJwt(sub).jti}/lineage`, adminToken)).json()) as object,
    ).toMatchObject({ token: { active: false } })

    for (const missing of [
      '/admin/v1/tasks/00000000-0000-4000-8000-000000000000',
      '/admin/v1/tokens/nope/lineage',
      '/admin/v1/decisions/nope',
      '/admin/v1/unknown',
    ]) {
      expect((await admin(missing, adminToken)).status).toBe(404)
    }
  })

  it('filters decisions by client, subject and time, each with its task', async () => {
    // Decision times have one-second precision: start on a fresh second, after every earlier decision.
    const second = Math.floor(Date.now() / 1000) * 1000 + 1000
    while (Date.now() < second) await new Promise((resolve) => setTimeout(resolve, second - Date.now() + 1))
    const start = new Date(second).toISOString()
    const { task } = await flow()
    const bob = await personToken({ sub: 'bob', scope: 'tickets:read' })
    await exchanged(server.url, 'agent-one', { subject_token: bob, resource: tickets })
    const adminToken = await accessToken(server.url, 'mandate-admin', {
      resource: 'urn:mandate:admin',
      scope: 'mandate:admin',
    })
    const list = async (query: string) =>
      (
        (await (await admin(`/admin/v1/decisions?${query}`, adminToken)).json()) as {
          decisions: Array<Record<string, unknown>>
        }
      ).decisions

    const bySubAgent = await list(`client_id=sub-agent&since=${encodeURIComponent(start)}`)
    expect(bySubAgent.map((d) => [d.client_id, d.subject, d.result])).toEqual([
      ['sub-agent', 'alice', 'deny'],
      ['sub-agent', 'alice', 'allow'],
    ])
    for (const decision of bySubAgent)
      expect(decision.task).toEqual({ purpose: 'Close ticket 7', delegator: 'alice', outcome: null })
    const byBob = await list('subject=bob')
    expect(byBob.map((d) => [d.client_id, d.subject, d.task_id, d.task])).toEqual([
      ['agent-one', 'bob', null, undefined],
    ])
    expect(
      (await list(`subject=alice&since=${encodeURIComponent(start)}`)).every((d) => d.task_id === task.task_id),
    ).toBe(true)
    expect(await list(`since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).toEqual([])
    const bad = await admin('/admin/v1/decisions?since=yesterday', adminToken)
    expect({ status: bad.status, body: await bad.json() }).toEqual({
      status: 400,
      body: { error: 'invalid_request', error_description: 'since must be an ISO 8601 time' },
    })
  })

  it('stops answering a client the moment it no longer holds mandate:admin', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-admin-'))
    const document = (scopes: string) => `apiVersion: mandate/v1
kind: Client
metadata: { name: acting-admin }
spec:
  secret: acting-admin-secret-0123456789
  grantTypes: [client_credentials]
  scopes: [${scopes}]
  profile: service
`
    writeFileSync(join(dir, 'client.yaml'), document('mandate:admin'))
    expect((await applyDocuments(t.db, [dir], TEST_APPLY)).findings).toEqual([])
    const response = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from('acting-admin:acting-admin-secret-0123456789').toString('base64')}`,
      },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        resource: 'urn:mandate:admin',
        scope: 'mandate:admin',
      }),
    })
    const { access_token: token } = (await response.json()) as { access_token: string }
    expect((await admin('/admin/v1/audit?limit=1', token)).status).toBe(200)
    writeFileSync(join(dir, 'client.yaml'), document('tickets:read'))
    expect((await applyDocuments(t.db, [dir], TEST_APPLY)).findings).toEqual([])
    expect((await admin('/admin/v1/audit?limit=1', token)).status).toBe(401)
  })

  it('refuses audit rows being changed', async () => {
    await expect(t.db.updateTable('audit_events').set({ actor: 'someone' }).execute()).rejects.toThrow(/append-only/)
    await expect(t.db.deleteFrom('audit_events').execute()).rejects.toThrow(/append-only/)
  })
})

describe('revocation webhooks', () => {
  let receiver: Server
  afterAll(() => new Promise((resolve) => receiver?.close(resolve)))

  it('POSTs a signed SET on completion, retrying after a failure, without delaying the completion', async () => {
    const received: string[] = []
    let failFirst = true
    receiver = createServer((req, res) => {
      let body = ''
      req.on('data', (chunk) => (body += chunk))
      req.on('end', () => {
        received.push(`${req.headers['content-type']} ${body}`)
        if (failFirst) {
          failFirst = false
          res.writeHead(503).end()
        } else res.writeHead(202).end()
      })
    })
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    const dir = mkdtempSync(join(tmpdir(), 'mandate-webhook-'))
    writeFileSync(
      join(dir, 'r.yaml'),
      `apiVersion: mandate/v1
kind: Resource
metadata: { name: tickets }
spec:
  uri: https://tickets.test/
  scopes: [tickets:read, tickets:write]
  introspectors: [rs-tickets]
  accessTokenLifetime: 5m
  revocationWebhook: http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events
`,
    )
    expect((await applyDocuments(t.db, [dir], TEST_APPLY)).findings).toEqual([])

    const { task, agent, sub } = await flow()
    const started = Date.now()
    const completed = await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}/complete`, {})
    expect(completed.status).toBe(200)
    expect(Date.now() - started).toBeLessThan(2000)

    // First attempt fails (503), the retry 2 s later succeeds.
    for (let i = 0; i < 100 && received.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 100))
    expect(received).toHaveLength(2)
    const [contentType, set] = (received[1] as string).split(' ')
    expect(contentType).toBe('application/secevent+jwt')
    const jwks = (await (await fetch(`${server.url}/jwks`)).json()) as JSONWebKeySet
    const { payload, protectedHeader } = await jwtVerify(set as string, createLocalJWKSet(jwks), {
      issuer: server.issuer,
      audience: tickets,
      typ: 'secevent+jwt',
    })
    expect(protectedHeader.alg).toBe('ES256')
    expect(payload.events).toEqual({
      [TASK_COMPLETED_EVENT]: {
        task_id: task.task_id,
        subtask_ids: [],
        outcome: 'succeeded',
        revoked_jtis: expect.arrayContaining([decodeJwt(agent).jti, decodeJwt(sub).jti]),
      },
    })
    const delivery = await t.db.selectFrom('webhook_deliveries').selectAll().executeTakeFirstOrThrow()
    expect(delivery).toMatchObject({ attempts: 2, delivered_at: expect.any(Date), failed_at: null })
  })
  it('pushes to every resource a revoked token was for, also one reached through an actor token', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-webhook-notes-'))
    writeFileSync(
      join(dir, 'r.yaml'),
      `apiVersion: mandate/v1
kind: Resource
metadata: { name: notes }
spec:
  uri: https://notes.test/
  scopes: [notes:read]
  introspectors: [rs-tickets]
  accessTokenLifetime: 5m
  revocationWebhook: http://127.0.0.1:9/events
`,
    )
    expect((await applyDocuments(t.db, [dir], TEST_APPLY)).findings).toEqual([])
    const alice = await personToken({ scope: 'tickets:read tickets:write notes:read' })
    const { task } = await startTask(server.url, { alice, params: { purpose: 'Close ticket 8' } })
    const agent = await exchanged(server.url, 'agent-one', {
      subject_token: alice,
      resource: tickets,
      task_id: task.task_id,
    })
    // Not issued for the task (nor for its resources), but minted with the task's token as actor_token.
    const notes = await exchanged(server.url, 'agent-one', {
      subject_token: alice,
      resource: 'https://notes.test/',
      actor_token: agent,
      actor_token_type: ACCESS_TOKEN,
    })
    const completed = await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}/complete`, {})
    expect(await completed.json()).toMatchObject({ revoked_tokens: 2 })
    const delivery = await t.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('resource', '=', 'https://notes.test/')
      .executeTakeFirstOrThrow()
    const jwks = (await (await fetch(`${server.url}/jwks`)).json()) as JSONWebKeySet
    const { payload } = await jwtVerify(delivery.event, createLocalJWKSet(jwks), {
      audience: 'https://notes.test/',
      typ: 'secevent+jwt',
    })
    expect(payload.events).toMatchObject({
      [TASK_COMPLETED_EVENT]: { task_id: task.task_id, revoked_jtis: [decodeJwt(notes).jti] },
    })
  })
})
