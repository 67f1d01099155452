// The evaluation API (AuthZEN, docs/runtime-authorization.md): each reason code, the intersection of action
// rules across path levels, default deny, task intent, rates per task, records, and who may ask.
import { beforeAll, describe, expect, it } from 'vitest'
import { useDatabase, writtenRows } from '../support/database.ts'
import { callAccess, evaluate, evaluationBody } from '../support/evaluate.ts'
import { personToken } from '../support/idp.ts'
import { accessToken, exchanged, jtiOf, revoke, tasksCall } from '../support/oauth.ts'
import { applyPath } from '../support/apply-path.ts'
import { useServer } from '../support/server.ts'
import { startTask } from '../support/tasks.ts'

const t = useDatabase()
const server = useServer(t)
const tickets = 'https://tickets.test/'
const TE = 'urn:ietf:params:oauth:grant-type:token-exchange'

beforeAll(async () => {
  // The organisation allows only ticket actions and reading notes; the agent's path lists what it may do.
  await applyPath(
    t.db,
    'acme',
    `  delegation: { maxDepth: 3 }
  subjectTokens: { issuers: [self, test-idp], holders: [alice-app, alice] }
  actions:
    - { name: tickets.*, class: write, cache: 60s }
    - { name: notes.read, class: read }
`,
  )
  await applyPath(
    t.db,
    'acme/support/agent-one',
    `  bindings:
    - { client: agent-one, resource: ${tickets}, grantType: ${TE} }
    - { client: agent-one, resource: https://notes.test/, grantType: ${TE} }
  scopes: [tickets:read, tickets:write, notes:read, admin:all]
  tokenLifetime: 2m
  delegation: { mode: delegation, actors: [agent-one, sub-agent, sub-sub-agent, agent-two] }
  actions:
    - { name: tickets.read, class: read, cache: 30s }
    - { name: tickets.comment, class: write, scopes: [tickets:write], rate: { max: 2, per: 1m } }
    - { name: tickets.delete, class: destructive, task: required, approval: delegator }
    - { name: tickets.assign, class: write, actors: [sub-agent] }
    - { name: tickets.close, class: write, scopes: [tickets:write] }
`,
  )
  await applyPath(
    t.db,
    'acme/support/sub-agent',
    `  bindings:
    - { client: sub-agent, resource: ${tickets}, grantType: ${TE} }
  scopes: [tickets:read]
  delegation: { actors: [agent-one, sub-agent, sub-sub-agent] }
  actions:
    - { name: tickets.*, class: write, maxDepth: 1 }
`,
  )
})

/** agent-one's token for a new task of alice's (scope as asked), and the task. */
async function taskToken(params: Record<string, string | string[]> = {}, scope = 'tickets:read tickets:write') {
  const { task, alice } = await startTask(server.url, {
    alice: await personToken({ iat: Math.floor(Date.now() / 1000) - 120 }),
    params: { scope, ...params },
  })
  const token = await exchanged(server.url, 'agent-one', {
    subject_token: alice,
    resource: tickets,
    task_id: task.task_id,
    scope,
  })
  return { task, alice, token }
}

const record = (decisionId: string) =>
  t.db.selectFrom('decisions').selectAll().where('decision_id', '=', decisionId).executeTakeFirstOrThrow()

describe('GET /.well-known/authzen-configuration', () => {
  it('names the policy decision point and its two evaluation endpoints', async () => {
    const response = await fetch(`${server.url}/.well-known/authzen-configuration`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({
      policy_decision_point: server.issuer,
      access_evaluation_endpoint: `${server.issuer}/access/v1/evaluation`,
      access_evaluations_endpoint: `${server.issuer}/access/v1/evaluations`,
    })
  })
})

describe('an allowed action', () => {
  it('answers true with a decision id, records the decision with the chain and rules, and echoes X-Request-ID', async () => {
    const { task, token } = await taskToken()
    const answer = await fetch(`${server.url}/access/v1/evaluation`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from('rs-tickets:rs-tickets-secret-012345678').toString('base64')}`,
        'x-request-id': 'pep-req-1',
      },
      body: JSON.stringify(evaluationBody({ token, action: 'tickets.read' })),
    })
    expect(answer.status).toBe(200)
    expect(answer.headers.get('x-request-id')).toBe('pep-req-1')
    expect(answer.headers.get('cache-control')).toBe('no-store')
    const body = (await answer.json()) as { decision: boolean; context: { decision_id: string; cache_max_age: number } }
    // Cached at most 30 s: the leaf's cache, the least of the two levels that allow it.
    expect(body).toEqual({ decision: true, context: { decision_id: expect.any(String), cache_max_age: 30 } })
    expect(answer.headers.get('x-decision-id')).toBe(body.context.decision_id)
    expect(await record(body.context.decision_id)).toMatchObject({
      kind: 'evaluation',
      grant_type: null,
      result: 'allow',
      reason: 'allowed',
      client_id: 'agent-one',
      caller_id: 'rs-tickets',
      subject: 'alice',
      subject_issuer: 'test-idp',
      subject_ref: jtiOf(token),
      actor_chain: ['agent-one'],
      resources: [tickets],
      action: 'tickets.read',
      object_id: 'ticket-42',
      task_id: task.task_id,
      policy_path: 'acme/support/agent-one',
      detail: 'acme: tickets.*; acme/support/agent-one: tickets.read',
    })
  })

  it('authenticates the caller with client_secret_post members of the JSON body too, as at the token endpoint', async () => {
    const { token } = await taskToken()
    const response = await fetch(`${server.url}/access/v1/evaluation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        ...evaluationBody({ token, action: 'tickets.read' }),
        client_id: 'rs-tickets',
        client_secret: 'rs-tickets-secret-012345678',
      }),
    })
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ decision: true })
    const wrong = await fetch(`${server.url}/access/v1/evaluation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        ...evaluationBody({ token, action: 'tickets.read' }),
        client_id: 'rs-tickets',
        client_secret: 'not-the-secret-0123456789',
      }),
    })
    expect({ status: wrong.status, body: await wrong.json() }).toEqual({
      status: 401,
      body: { error: 'invalid_client', error_description: 'client authentication failed' },
    })
  })

  it('accepts the resource by its name as well as its URI', async () => {
    const { token } = await taskToken()
    expect(await evaluate(server.url, { token, action: 'tickets.read', resource: 'tickets' })).toMatchObject({
      decision: true,
    })
  })

  it('leaves an action to scope alone when no level of the path declares actions', async () => {
    // agent-two has no client_credentials binding for other.test: no policy path, no action rules.
    const token = await accessToken(server.url, 'agent-two', {
      resource: 'https://other.test/api',
      scope: 'other:read',
    })
    const answer = await evaluate(
      server.url,
      { token, action: 'reports.export', resource: 'https://other.test/api' },
      'rs-other',
    )
    expect(answer).toEqual({ decision: true, context: { decision_id: expect.any(String) } })
  })
})

describe('each reason code', () => {
  it('token_inactive: garbage, revoked, for another resource, or of a completed task; one face for all', async () => {
    const { task, token } = await taskToken()
    const other = await accessToken(server.url, 'agent-one', {
      resource: 'https://other.test/api',
      scope: 'other:read',
    })
    const revoked = await accessToken(server.url, 'agent-two', { scope: 'tickets:read' })
    expect((await revoke(server.url, revoked, 'agent-two')).status).toBe(200)
    const denied = {
      decision: false,
      context: {
        decision_id: expect.any(String),
        reason: 'token_inactive',
        reason_user: { en: 'the access token is not active for this resource' },
      },
    }
    for (const candidate of ['not-a-jwt', `${token.slice(0, -4)}AAAA`, other, revoked])
      expect(await evaluate(server.url, { token: candidate, action: 'tickets.read' })).toEqual(denied)
    expect((await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}/complete`, {})).status).toBe(200)
    const afterCompletion = await evaluate(server.url, { token, action: 'tickets.read' })
    expect(afterCompletion).toEqual(denied)
    // The record keeps the cause for operators; a token that did not verify names nobody.
    const garbage = await callAccess(
      server.url,
      'evaluation',
      evaluationBody({ token: 'not-a-jwt', action: 'tickets.read' }),
    )
    expect(await record(garbage.decisionId as string)).toMatchObject({
      result: 'deny',
      reason: 'token_inactive',
      subject: null,
      subject_ref: null,
      client_id: null,
      caller_id: 'rs-tickets',
    })
  })

  it('token_inactive at once for a token evaluated before (its facts known to this process): completion, revocation', async () => {
    const { task, token } = await taskToken()
    const first = await callAccess(server.url, 'evaluation', evaluationBody({ token, action: 'tickets.read' }))
    const second = await callAccess(server.url, 'evaluation', evaluationBody({ token, action: 'tickets.read' }))
    expect([first.body.decision, second.body.decision]).toEqual([true, true])
    // The second one was decided on the known facts and recorded by the same statement that read the activity.
    const [a, b] = [await record(first.decisionId as string), await record(second.decisionId as string)]
    const { decision_id: _a, created_at: firstAt, ...firstRecord } = a
    const { decision_id: _b, created_at: secondAt, ...secondRecord } = b
    expect(secondRecord).toEqual({ ...firstRecord, request_id: secondRecord.request_id })
    expect(secondAt.getTime()).toBeGreaterThanOrEqual(firstAt.getTime())
    expect((await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}/complete`, {})).status).toBe(200)
    const after = await callAccess(server.url, 'evaluation', evaluationBody({ token, action: 'tickets.read' }))
    expect(after.body).toMatchObject({ decision: false, context: { reason: 'token_inactive' } })
    expect(await record(after.decisionId as string)).toMatchObject({
      result: 'deny',
      reason: 'token_inactive',
      subject: null,
      subject_ref: jtiOf(token),
    })

    const revoked = await accessToken(server.url, 'agent-two', { scope: 'tickets:read' })
    expect((await evaluate(server.url, { token: revoked, action: 'tickets.read' })).decision).toBe(true)
    expect((await revoke(server.url, revoked, 'agent-two')).status).toBe(200)
    expect(await evaluate(server.url, { token: revoked, action: 'tickets.read' })).toMatchObject({
      decision: false,
      context: { reason: 'token_inactive' },
    })
  })

  it('action_not_allowed: an action a declaring level has no rule for (default deny), at the leaf or the root', async () => {
    const { token } = await taskToken()
    for (const action of ['tickets.export', 'billing.read']) {
      const answer = await callAccess(server.url, 'evaluation', evaluationBody({ token, action }))
      expect(answer.body).toMatchObject({ decision: false, context: { reason: 'action_not_allowed' } })
      expect((await record(answer.decisionId as string)).detail).toBe(
        action === 'billing.read'
          ? 'no rule for billing.read at policy path acme'
          : 'no rule for tickets.export at policy path acme/support/agent-one',
      )
    }
    // A client_credentials token under a path whose root declares only ticket and note actions.
    const cc = await accessToken(server.url, 'agent-one', { resource: 'https://other.test/api', scope: 'other:read' })
    expect(
      await evaluate(server.url, { token: cc, action: 'other.read', resource: 'https://other.test/api' }, 'rs-other'),
    ).toMatchObject({ decision: false, context: { reason: 'action_not_allowed' } })
  })

  it('outside_task_intent: an action the task did not declare, although scope and policy allow it', async () => {
    const { task, token } = await taskToken({ actions: ['tickets.read', 'tickets.comment'] })
    expect(task.actions).toEqual(['tickets.read', 'tickets.comment'])
    expect(await evaluate(server.url, { token, action: 'tickets.read' })).toMatchObject({ decision: true })
    expect(await evaluate(server.url, { token, action: 'tickets.close' })).toMatchObject({
      decision: false,
      context: { reason: 'outside_task_intent' },
    })
  })

  it('task_required: a token exchanged without a task, for an action that needs one', async () => {
    const alice = await personToken()
    const token = await exchanged(server.url, 'agent-one', { subject_token: alice, resource: tickets })
    expect(await evaluate(server.url, { token, action: 'tickets.delete' })).toMatchObject({
      decision: false,
      context: { reason: 'task_required' },
    })
  })

  it('insufficient_scope: the rule requires a scope the token lacks', async () => {
    const { token } = await taskToken({}, 'tickets:read')
    expect(await evaluate(server.url, { token, action: 'tickets.close' })).toMatchObject({
      decision: false,
      context: { reason: 'insufficient_scope' },
    })
  })

  it('chain_too_deep: the sub-agent acts two deep where its path allows one', async () => {
    const { task, token } = await taskToken()
    const sub = await exchanged(server.url, 'sub-agent', {
      subject_token: token,
      resource: tickets,
      task_id: task.task_id,
      scope: 'tickets:read',
    })
    const answer = await callAccess(server.url, 'evaluation', evaluationBody({ token: sub, action: 'tickets.read' }))
    expect(answer.body).toMatchObject({ decision: false, context: { reason: 'chain_too_deep' } })
    expect(await record(answer.decisionId as string)).toMatchObject({
      client_id: 'sub-agent',
      actor_chain: ['sub-agent', 'agent-one'],
      detail: 'chain depth 2 exceeds 1 (sub-agent < agent-one)',
    })
  })

  it('actor_not_allowed: the rule lists other actors than the token holder', async () => {
    const { token } = await taskToken()
    expect(await evaluate(server.url, { token, action: 'tickets.assign' })).toMatchObject({
      decision: false,
      context: { reason: 'actor_not_allowed' },
    })
  })

  it('rate_exceeded: two comments a minute per task; another task counts on its own', async () => {
    const first = await taskToken()
    const second = await taskToken()
    const comment = (token: string) => evaluate(server.url, { token, action: 'tickets.comment' })
    expect((await comment(first.token)).decision).toBe(true)
    expect((await comment(first.token)).decision).toBe(true)
    expect(await comment(first.token)).toMatchObject({ decision: false, context: { reason: 'rate_exceeded' } })
    // A token of the same task shares the count; the other task has its own.
    expect(await comment(first.token)).toMatchObject({ decision: false, context: { reason: 'rate_exceeded' } })
    expect((await comment(second.token)).decision).toBe(true)
    // Concurrent evaluations never exceed the rate.
    const third = await taskToken()
    const answers = await Promise.all(Array.from({ length: 8 }, () => comment(third.token)))
    expect(answers.filter((a) => a.decision)).toHaveLength(2)
  })
})

describe('who may ask', () => {
  it('refuses (403) a caller that is not an introspector of the resource, or one that does not exist; records nothing', async () => {
    const { token } = await taskToken()
    for (const resource of [tickets, 'https://nowhere.test/']) {
      const before = await writtenRows(t.db)
      const answer = await callAccess(
        server.url,
        'evaluation',
        evaluationBody({ token, action: 'tickets.read', resource }),
        'rs-other',
      )
      expect(answer).toMatchObject({
        status: 403,
        body: { error: 'access_denied', error_description: 'the client may not ask about this resource' },
        decisionId: null,
      })
      expect(await writtenRows(t.db)).toEqual(before)
    }
  })

  it('refuses an unauthenticated caller (401) and a malformed request (400), recording nothing', async () => {
    const { token } = await taskToken()
    const before = await writtenRows(t.db)
    const noAuth = await fetch(`${server.url}/access/v1/evaluation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(evaluationBody({ token, action: 'tickets.read' })),
    })
    expect(noAuth.status).toBe(401)
    expect(await noAuth.json()).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' })
    expect(noAuth.headers.get('www-authenticate')).toBe('Basic realm="mandate"')
    const cases: Array<[unknown, string]> = [
      [
        { ...evaluationBody({ token, action: 'tickets.read' }), subject: { type: 'user', id: 'alice' } },
        'subject.type: subject.type must be access_token',
      ],
      [
        { ...evaluationBody({ token, action: 'Tickets Read' }) },
        'action.name: an action name is up to 8 "."-separated segments of a-z 0-9 _ : -',
      ],
      [
        { subject: { type: 'access_token', id: token } },
        'resource: Invalid input: expected object, received undefined',
      ],
    ]
    for (const [body, description] of cases) {
      const answer = await callAccess(server.url, 'evaluation', body)
      expect(answer).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: description } })
    }
    const asForm = await fetch(`${server.url}/access/v1/evaluation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'subject=x',
    })
    expect(await asForm.json()).toEqual({
      error: 'invalid_request',
      error_description: 'request body must be application/json',
    })
    expect(await writtenRows(t.db)).toEqual(before)
  })
})

describe('POST /access/v1/evaluations', () => {
  it('applies the defaults, lets entries replace them, and answers every evaluation in order (execute_all)', async () => {
    const { token } = await taskToken()
    const answer = await callAccess(server.url, 'evaluations', {
      subject: { type: 'access_token', id: token },
      resource: { type: tickets, id: 'ticket-1' },
      evaluations: [
        { action: { name: 'tickets.read' } },
        { action: { name: 'tickets.export' } },
        { action: { name: 'tickets.read' }, resource: { type: 'https://notes.test/', id: 'n-1' } },
      ],
    })
    expect(answer.status).toBe(200)
    const evaluations = answer.body.evaluations as Array<{
      decision: boolean
      context: { decision_id: string; reason?: string }
    }>
    expect(evaluations.map((e) => [e.decision, e.context.reason])).toEqual([
      [true, undefined],
      [false, 'action_not_allowed'],
      // The token is for tickets, not notes.
      [false, 'token_inactive'],
    ])
    expect(answer.decisionId).toBe(evaluations.map((e) => e.context.decision_id).join(', '))
    expect((await record(evaluations[2]?.context.decision_id as string)).object_id).toBe('n-1')
  })

  it('stops after the first deny (deny_on_first_deny) or the first permit (permit_on_first_permit)', async () => {
    const { token } = await taskToken()
    const batch = (semantic: string) =>
      callAccess(server.url, 'evaluations', {
        subject: { type: 'access_token', id: token },
        resource: { type: tickets, id: 'ticket-1' },
        options: { evaluations_semantic: semantic },
        evaluations: ['tickets.read', 'tickets.export', 'tickets.read'].map((name) => ({ action: { name } })),
      })
    const denyFirst = await batch('deny_on_first_deny')
    expect((denyFirst.body.evaluations as Array<{ decision: boolean }>).map((e) => e.decision)).toEqual([true, false])
    const permitFirst = await batch('permit_on_first_permit')
    expect((permitFirst.body.evaluations as Array<{ decision: boolean }>).map((e) => e.decision)).toEqual([true])
  })

  it('answers a request without evaluations as one evaluation', async () => {
    const { token } = await taskToken()
    const answer = await callAccess(server.url, 'evaluations', evaluationBody({ token, action: 'tickets.read' }))
    expect(answer.body).toMatchObject({ decision: true })
  })

  it('refuses a batch with an entry it cannot complete, or one resource the caller may not ask about, before evaluating any', async () => {
    const { token } = await taskToken()
    const before = await writtenRows(t.db)
    const incomplete = await callAccess(server.url, 'evaluations', {
      subject: { type: 'access_token', id: token },
      evaluations: [
        { action: { name: 'tickets.read' }, resource: { type: tickets, id: '1' } },
        { action: { name: 'tickets.read' } },
      ],
    })
    expect(incomplete).toMatchObject({
      status: 400,
      body: { error: 'invalid_request', error_description: 'evaluations[1] needs a subject, a resource and an action' },
    })
    const mixed = await callAccess(server.url, 'evaluations', {
      subject: { type: 'access_token', id: token },
      action: { name: 'tickets.read' },
      evaluations: [
        { resource: { type: tickets, id: '1' } },
        { resource: { type: 'https://other.test/api', id: '2' } },
      ],
    })
    expect(mixed).toMatchObject({ status: 403, body: { error: 'access_denied' } })
    expect(await writtenRows(t.db)).toEqual(before)
  })
})

describe('task intent at POST /tasks', () => {
  it('refuses an action no policy of the task allows, or one outside the parent task, and creates nothing', async () => {
    const alice = await personToken()
    const before = await writtenRows(t.db)
    for (const [actions, description] of [
      [
        ['tickets.read', 'billing.read'],
        'actions: billing.read is not allowed for this task\u2019s resources'.replace('\u2019', "'"),
      ],
      [['tickets.*'], "actions: tickets.* is not allowed for this task's resources"],
      [['tickets.READ'], 'actions: tickets.READ is not an action name or pattern'],
    ] as const) {
      const response = await tasksCall(server.url, 'agent-one', '/tasks', {
        subject_token: alice,
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        purpose: 'x',
        resource: tickets,
        actions: [...actions],
      })
      expect(response.status).toBe(400)
      expect(await response.json()).toEqual({ error: 'invalid_request', error_description: description })
    }
    expect(await writtenRows(t.db)).toEqual(before)
  })
})
