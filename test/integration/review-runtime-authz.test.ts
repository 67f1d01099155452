// An adversarial review of runtime authorization (issue 11): each block is a bug that was found, shown by
// the attack that worked, and kept as the test that it no longer does.
import { decodeJwt } from 'jose'
import { sql } from 'kysely'
import pg from 'pg'
import { beforeAll, describe, expect, it } from 'vitest'
import { applyPath } from '../support/apply-path.ts'
import { useDatabase, writtenRows } from '../support/database.ts'
import { callAccess, evaluate, evaluationBody } from '../support/evaluate.ts'
import { personToken } from '../support/idp.ts'
import { dpopKey } from '../support/dpop.ts'
import { accessToken, basic, exchanged, form, secrets } from '../support/oauth.ts'
import { useServer } from '../support/server.ts'
import { startTask } from '../support/tasks.ts'

const t = useDatabase()
const server = useServer(t)
const tickets = 'https://tickets.test/'
const TE = 'urn:ietf:params:oauth:grant-type:token-exchange'

/** agent-one's path on tickets, with `scopes` as its ceiling (and `more` spec lines). */
const agentOnePath = (scopes: string, more = '') =>
  applyPath(
    t.db,
    'acme/support/agent-one',
    `  bindings:
    - { client: agent-one, resource: ${tickets}, grantType: ${TE} }
  scopes: ${scopes}${more}
  delegation: { mode: delegation, actors: [agent-one, sub-agent] }
  actions:
    - { name: tickets.read, class: read }
    - { name: tickets.close, class: write }
    - { name: tickets.assign, class: write, scopes: [tickets:write] }
    - { name: tickets.delete, class: destructive, task: required, approval: delegator }
    - { name: tickets.comment, class: write, rate: { max: 100, per: 1m } }
`,
  )

beforeAll(() => agentOnePath('[tickets:read, tickets:write]'))

/** agent-one's token for a new task of alice's, started with `alice` (the person's token the agent holds). */
async function agentToken(alice: string, params: Record<string, string | string[]> = {}) {
  const { task } = await startTask(server.url, { alice, params: { scope: 'tickets:read tickets:write', ...params } })
  const token = await exchanged(server.url, 'agent-one', {
    subject_token: alice,
    resource: tickets,
    task_id: task.task_id,
  })
  return { task, token }
}

const nextSecond = () => new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 5))
const secondsAgo = (seconds: number) => personToken({ iat: Math.floor(Date.now() / 1000) - seconds })

async function answerApproval(approvalId: string, token: string) {
  const response = await fetch(`${server.url}/approvals/${approvalId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${token}` },
    body: 'decision=approve',
  })
  return { status: response.status, body: await response.json() }
}

/** The agent asks to delete a ticket: a pending approval, and its id. */
async function pendingApproval(token: string): Promise<string> {
  const asked = await evaluate(server.url, { token, action: 'tickets.delete' })
  expect(asked.context.reason).toBe('approval_required')
  return asked.context.approval_id as string
}

const notFound = { status: 404, body: { error: 'not_found', error_description: 'approval not found' } }

async function expectRefusedAnswer(approvalId: string, token: string) {
  const before = await writtenRows(t.db)
  expect(await answerApproval(approvalId, token)).toEqual(notFound)
  expect(await writtenRows(t.db)).toEqual(before)
  const row = await t.db
    .selectFrom('approvals')
    .select('status')
    .where('approval_id', '=', approvalId)
    .executeTakeFirstOrThrow()
  expect(row.status).toBe('pending')
}

describe('an agent approving its own action', () => {
  it('cannot with the person token it was handed just before it asked (within the clock tolerance)', async () => {
    // The person signs in and the agent acts within seconds: the token the agent holds was issued before
    // the request, inside the 15 s tolerance the check used to allow.
    for (const handed of [await personToken(), await secondsAgo(10)]) {
      const { token } = await agentToken(handed)
      await expectRefusedAnswer(await pendingApproval(token), handed)
    }
  })

  it('cannot with a token another client exchanged from the person token it holds (impersonation: no act)', async () => {
    // agent-one holds alice's token; a client allowed to impersonate (acme/impersonation) exchanges it after
    // the request: sub alice, vouched for by test-idp, no act, held by neither the agent nor its chain.
    const handed = await secondsAgo(120)
    const { token } = await agentToken(handed)
    const approvalId = await pendingApproval(token)
    await nextSecond()
    const minted = await exchanged(server.url, 'impersonator', { subject_token: handed, resource: tickets })
    expect(decodeJwt(minted)).toMatchObject({ sub: 'alice', client_id: 'impersonator' })
    expect(decodeJwt(minted).act).toBeUndefined()
    await expectRefusedAnswer(approvalId, minted)
  })
})

describe("a task's declared intent", () => {
  it('binds every token that depends on the task: a sub-agent cannot move to the parent task for its wider intent', async () => {
    // agent-one's task may read and close; it confines the sub-agent to a subtask that may only read.
    const alice = await secondsAgo(120)
    const { task, token } = await agentToken(alice, { actions: ['tickets.read', 'tickets.close'] })
    const subtask = (
      await startTask(server.url, {
        alice: token,
        params: { parent_task_id: task.task_id, scope: 'tickets:read', actions: ['tickets.read'] },
      })
    ).task
    const confined = await exchanged(server.url, 'agent-one', {
      subject_token: token,
      resource: tickets,
      task_id: subtask.task_id,
    })
    const sub = await exchanged(server.url, 'sub-agent', {
      subject_token: confined,
      resource: tickets,
      task_id: subtask.task_id,
      scope: 'tickets:read',
    })
    const close = (held: string) => evaluate(server.url, { token: held, action: 'tickets.close', object: 'ticket-7' })
    expect((await close(sub)).context.reason).toBe('outside_task_intent')
    // The sub-agent exchanges its token again naming the parent task (the task rules let a delegated
    // sub-agent work on it): the new token still depends on the subtask, so the subtask's intent holds.
    const moved = await exchanged(server.url, 'sub-agent', {
      subject_token: confined,
      resource: tickets,
      task_id: task.task_id,
      scope: 'tickets:read',
    })
    const row = await t.db
      .selectFrom('issued_tokens')
      .select(['task_id', 'task_path'])
      .where('jti', '=', decodeJwt(moved).jti as string)
      .executeTakeFirstOrThrow()
    expect(row).toEqual({ task_id: task.task_id, task_path: [task.task_id, subtask.task_id] })
    const answer = await callAccess(
      server.url,
      'evaluation',
      evaluationBody({ token: moved, action: 'tickets.close', object: 'ticket-7' }),
    )
    expect(answer.body).toEqual({
      decision: false,
      context: {
        decision_id: answer.decisionId,
        reason: 'outside_task_intent',
        reason_user: { en: "this action is outside the task's declared actions" },
      },
    })
    const record = await t.db
      .selectFrom('decisions')
      .select(['result', 'detail', 'task_id'])
      .where('decision_id', '=', answer.decisionId as string)
      .executeTakeFirstOrThrow()
    expect(record).toEqual({
      result: 'deny',
      detail: `tickets.close is not among the actions task ${subtask.task_id} declared`,
      task_id: task.task_id,
    })
    expect((await evaluate(server.url, { token: moved, action: 'tickets.read' })).decision).toBe(true)
  })
})

describe('a policy path narrowed after issuance', () => {
  it('no longer lets a scope it removed satisfy an action rule', async () => {
    const { token } = await agentToken(await secondsAgo(120))
    const assign = () => callAccess(server.url, 'evaluation', evaluationBody({ token, action: 'tickets.assign' }))
    expect((await assign()).body).toMatchObject({ decision: true })
    // The organisation takes tickets:write away from agent-one (the binding in force decides each evaluation).
    await agentOnePath('[tickets:read]')
    try {
      const answer = await assign()
      expect(answer.body).toEqual({
        decision: false,
        context: {
          decision_id: answer.decisionId,
          reason: 'insufficient_scope',
          reason_user: { en: 'the access token lacks a scope this action requires' },
        },
      })
      expect(
        await t.db
          .selectFrom('decisions')
          .select(['result', 'detail', 'granted_scope'])
          .where('decision_id', '=', answer.decisionId as string)
          .executeTakeFirstOrThrow(),
      ).toEqual({
        result: 'deny',
        detail: 'missing scope tickets:write (not allowed by policy path acme/support/agent-one now)',
        granted_scope: ['tickets:read', 'tickets:write'],
      })
    } finally {
      await agentOnePath('[tickets:read, tickets:write]')
    }
  })
})

describe('a policy path that requires a task', () => {
  const taskRequired = async (answer: Awaited<ReturnType<typeof callAccess>>, path: string) => {
    expect(answer.body).toEqual({
      decision: false,
      context: {
        decision_id: answer.decisionId,
        reason: 'task_required',
        reason_user: { en: 'this action is allowed only within a task' },
      },
    })
    expect(
      await t.db
        .selectFrom('decisions')
        .select(['result', 'detail'])
        .where('decision_id', '=', answer.decisionId as string)
        .executeTakeFirstOrThrow(),
    ).toEqual({ result: 'deny', detail: `policy path ${path} requires a task` })
  }

  it('refuses a client_credentials token (which never has a task) bound to it', async () => {
    await applyPath(
      t.db,
      'acme/services/agent-one-other',
      `  bindings:
    - { client: agent-one, resource: https://other.test/api, grantType: client_credentials }
  scopes: [other:read]
  task: { required: true }
`,
    )
    const cc = await accessToken(server.url, 'agent-one', { resource: 'https://other.test/api', scope: 'other:read' })
    const asked = evaluationBody({ token: cc, action: 'other.read', resource: 'https://other.test/api' })
    await taskRequired(await callAccess(server.url, 'evaluation', asked, 'rs-other'), 'acme/services/agent-one-other')
  })

  it('refuses a token exchanged without a task before the path came to require one', async () => {
    const token = await exchanged(server.url, 'agent-one', { subject_token: await personToken(), resource: tickets })
    const read = () => callAccess(server.url, 'evaluation', evaluationBody({ token, action: 'tickets.read' }))
    expect((await read()).body).toMatchObject({ decision: true })
    await agentOnePath('[tickets:read, tickets:write]', '\n  task: { required: true }')
    try {
      await taskRequired(await read(), 'acme/support/agent-one')
    } finally {
      await agentOnePath('[tickets:read, tickets:write]')
    }
  })
})

describe('a DPoP-bound person token at /approvals/{id}', () => {
  it('spends its proof once: a replayed proof is refused, as the docs and the admin API promise', async () => {
    // alice's own client (issuer self) started the task with an older, unbound token of hers.
    const handed = await accessToken(server.url, 'alice', { scope: 'tickets:read tickets:write' })
    const { token } = await agentToken(handed)
    const approvalId = await pendingApproval(token)
    await nextSecond()
    const key = await dpopKey()
    const issued = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('alice', secrets.alice as string),
        dpop: await key.proof('POST', `${server.issuer}/token`),
      },
      body: form({ grant_type: 'client_credentials', resource: tickets, scope: 'tickets:read' }),
    })
    const bound = ((await issued.json()) as { access_token: string }).access_token
    expect(decodeJwt(bound).cnf).toEqual({ jkt: key.jkt })
    const url = `${server.issuer}/approvals/${approvalId}`
    const proof = await key.proof('GET', url, { accessToken: bound })
    const look = () => fetch(url, { headers: { authorization: `DPoP ${bound}`, dpop: proof } })
    const first = await look()
    expect(first.status).toBe(200)
    const replayed = await look()
    expect({
      status: replayed.status,
      challenge: replayed.headers.get('www-authenticate'),
      body: await replayed.json(),
    }).toEqual({
      status: 401,
      challenge: 'Bearer realm="mandate-approvals", error="invalid_token"',
      body: { error: 'invalid_token', error_description: 'the access token is invalid' },
    })
  })
})

describe.runIf(t.isPostgres)('a batch that meets an outage', () => {
  it('answers 503 only once every evaluation of the batch has ended: nothing is decided after the answer', async () => {
    const { token } = await agentToken(await secondsAgo(120))
    const entries = { evaluations: [{ action: { name: 'tickets.read' } }, { action: { name: 'tickets.comment' } }] }
    const batch = () =>
      callAccess(server.url, 'evaluations', {
        subject: { type: 'access_token', id: token },
        resource: { type: tickets, id: 'ticket-9' },
        ...entries,
      })
    expect((await batch()).status).toBe(200) // the comment's rate counter exists from here
    // The read's record meets an outage (SQLSTATE 08006); the rated comment waits on its counter's row lock.
    await sql`create function review_refuse() returns trigger language plpgsql as $$
      begin raise exception 'refused by the test' using errcode = '08006'; end $$`.execute(t.db)
    await sql`create trigger review_refusal before insert on decisions for each row
      when (new.action = 'tickets.read') execute function review_refuse()`.execute(t.db)
    const locker = new pg.Client({ connectionString: t.url })
    await locker.connect()
    try {
      await locker.query('begin')
      await locker.query('select * from action_rates for update')
      let answeredAt: number | undefined
      const answer = batch().then((a) => {
        answeredAt = Date.now()
        return a
      })
      await until(async () => (await lockWaiters()) >= 1)
      await new Promise((resolve) => setTimeout(resolve, 300)) // the read has long failed by now
      const releasedAt = Date.now()
      await locker.query('rollback')
      const { status, body, headers } = await answer
      expect({ status, body, retryAfter: headers.get('retry-after') }).toEqual({
        status: 503,
        body: {
          error: 'temporarily_unavailable',
          error_description: 'the authorization server is temporarily unavailable, retry later',
        },
        retryAfter: '5',
      })
      expect(answeredAt).toBeGreaterThanOrEqual(releasedAt)
    } finally {
      await locker.end()
      await sql`drop function review_refuse() cascade`.execute(t.db)
    }
  })
})

/** Backends of this database waiting for a lock (a fresh connection: activity statistics are a snapshot). */
async function lockWaiters(): Promise<number> {
  const watcher = new pg.Client({ connectionString: t.url })
  await watcher.connect()
  try {
    const { rows } = await watcher.query<{ n: string }>(
      `select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
    )
    return Number(rows[0]?.n)
  } finally {
    await watcher.end()
  }
}

async function until(done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error('a backend never waited for the lock')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
