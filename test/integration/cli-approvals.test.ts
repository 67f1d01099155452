// `mandate approval list|show` and the actions timeline of `mandate task show`: real evaluations against the
// in-process app make the approvals (pending, approved, used, denied, expired) and the timeline, then the
// real binary reads them from the same database, as the admin API shows them.
import { beforeAll, describe, expect, it } from 'vitest'
import { applyAgentOneActions } from '../support/apply-path.ts'
import { mandateCli } from '../support/cli.ts'
import { useDatabase } from '../support/database.ts'
import { callAccess, evaluationBody } from '../support/evaluate.ts'
import { personToken } from '../support/idp.ts'
import { accessToken, exchanged } from '../support/oauth.ts'
import { useServer } from '../support/server.ts'
import { startTask } from '../support/tasks.ts'

const t = useDatabase()
const server = useServer(t)
const tickets = 'https://tickets.test/'
const mandate = (...args: string[]) => mandateCli(t, args)
// Each CLI run is a Node process that loads the server's modules: seconds each on a loaded machine.
const CLI_TIMEOUT = 120_000

/** One evaluation by rs-tickets: its decision id, and the approval it names (if any). */
async function ask(token: string, action: string, object: string) {
  const answer = await callAccess(server.url, 'evaluation', evaluationBody({ token, action, object }))
  expect(answer.status).toBe(200)
  const context = answer.body.context as { decision_id: string; approval_id?: string }
  return { decision: answer.body.decision, decisionId: context.decision_id, approvalId: context.approval_id ?? null }
}

/**
 * The person's answer to an approval, with a token of their own issued after the request: in a later second (iat
 * is whole seconds, and a token of the request's own second may be one the agent was handed just before it asked).
 */
async function answer(approvalId: string, sub: string, decision: 'approve' | 'deny') {
  await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 5))
  const response = await fetch(`${server.url}/approvals/${approvalId}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Bearer ${await personToken({ sub })}`,
    },
    body: `decision=${decision}`,
  })
  expect(response.status).toBe(200)
}

/** A task of `sub`'s for agent-one (a subtask when a parent is given), and agent-one's token for it. */
async function agentTask(sub: string, parent?: string) {
  // The person token the agent is handed was issued earlier: it could not answer an approval.
  const handed = await personToken({ sub, iat: Math.floor(Date.now() / 1000) - 120 })
  const { task } = await startTask(server.url, {
    alice: handed,
    params: { scope: 'tickets:read tickets:write', ...(parent ? { parent_task_id: parent } : {}) },
  })
  const token = await exchanged(server.url, 'agent-one', {
    subject_token: handed,
    resource: tickets,
    task_id: task.task_id,
  })
  return { taskId: task.task_id, token }
}

type Asked = Awaited<ReturnType<typeof ask>>
let alice: { taskId: string; subtaskId: string; asked: Asked[] }
let bob: { taskId: string }
/** The approvals, oldest first: pending, used, approved (alice's task); denied, expired (bob's). */
let approvals: { pending: string; used: string; approved: string; denied: string; expired: string }

beforeAll(async () => {
  await applyAgentOneActions(
    t.db,
    `
    - { name: tickets.read, class: read }
    - { name: tickets.delete, class: destructive, task: required, approval: delegator }
`,
  )
  const task = await agentTask('alice')
  const sub = await agentTask('alice', task.taskId)
  const asked: Asked[] = []
  asked.push(await ask(task.token, 'tickets.read', 'ticket-1'))
  asked.push(await ask(task.token, 'tickets.delete', 'ticket-1')) // pending
  asked.push(await ask(task.token, 'tickets.delete', 'ticket-2'))
  await answer(asked[2]?.approvalId as string, 'alice', 'approve')
  asked.push(await ask(task.token, 'tickets.delete', 'ticket-2')) // uses it
  asked.push(await ask(task.token, 'tickets.delete', 'ticket-3'))
  await answer(asked[4]?.approvalId as string, 'alice', 'approve') // approved, not used
  asked.push(await ask(sub.token, 'tickets.read', 'ticket-9')) // in the subtask: on the parent's timeline too
  alice = { taskId: task.taskId, subtaskId: sub.taskId, asked }

  const other = await agentTask('bob')
  const denied = (await ask(other.token, 'tickets.delete', 'ticket-4')).approvalId as string
  await answer(denied, 'bob', 'deny')
  await ask(other.token, 'tickets.delete', 'ticket-4') // refused: approval_denied
  const expired = (await ask(other.token, 'tickets.delete', 'ticket-5')).approvalId as string
  await t.db
    .updateTable('approvals')
    .set({ expires_at: new Date(Date.now() - 1000) })
    .where('approval_id', '=', expired)
    .execute()
  bob = { taskId: other.taskId }
  approvals = {
    pending: asked[1]?.approvalId as string,
    used: asked[2]?.approvalId as string,
    approved: asked[4]?.approvalId as string,
    denied,
    expired,
  }
})

/** What the admin API answers for `path`, to compare the CLI's output with. */
async function admin(path: string): Promise<unknown> {
  const token = await accessToken(server.url, 'mandate-admin', {
    resource: 'urn:mandate:admin',
    scope: 'mandate:admin',
  })
  const response = await fetch(`${server.adminUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })
  expect(response.status).toBe(200)
  return response.json()
}

/** `mandate approval list <args>`: the ids it printed, in order; fails unless it exits 0. */
async function listed(...args: string[]): Promise<string[]> {
  const result = await mandate('approval', 'list', ...args)
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' })
  return (JSON.parse(result.stdout) as { approvals: Array<{ approval_id: string }> }).approvals.map(
    (a) => a.approval_id,
  )
}

describe.runIf(t.isPostgres)('mandate approval list', { timeout: CLI_TIMEOUT }, () => {
  it('lists every approval newest first, each as the admin API shows it', async () => {
    const { pending, used, approved, denied, expired } = approvals
    const result = await mandate('approval', 'list')
    expect(result.code, result.stderr).toBe(0)
    const shown = JSON.parse(result.stdout) as { approvals: Array<{ approval_id: string; status: string }> }
    expect(shown.approvals.map((a) => [a.approval_id, a.status])).toEqual([
      [expired, 'expired'],
      [denied, 'denied'],
      [approved, 'approved'],
      [used, 'used'],
      [pending, 'pending'],
    ])
    expect(shown).toEqual(await admin('/admin/v1/approvals'))
  })

  it('filters by --status (each state), --task, --delegator and --limit, and by several at once', async () => {
    const { pending, used, approved, denied, expired } = approvals
    const cases: Array<[string[], string[]]> = [
      [['--status', 'pending'], [pending]],
      [['--status', 'approved'], [approved]],
      [['--status', 'used'], [used]],
      [['--status', 'denied'], [denied]],
      [['--status', 'expired'], [expired]],
      [
        ['--task', alice.taskId],
        [approved, used, pending],
      ],
      // A subtask's approvals are its own: none were asked in it.
      [['--task', alice.subtaskId], []],
      [
        ['--delegator', 'alice'],
        [approved, used, pending],
      ],
      [
        ['--delegator', 'bob'],
        [expired, denied],
      ],
      [['--delegator', 'carol'], []],
      [
        ['--limit', '2'],
        [expired, denied],
      ],
      [['--task', bob.taskId, '--status', 'denied'], [denied]],
      [['--delegator', 'alice', '--status', 'denied'], []],
    ]
    // Each is a process of its own: run side by side, compared together.
    const answers = await Promise.all(cases.map(([args]) => listed(...args)))
    expect(answers).toEqual(cases.map(([, expected]) => expected))
  })

  it.each([
    [['--status', 'maybe'], '--status must be one of pending, approved, denied, used, expired'],
    [['--limit', '0'], '--limit must be a number from 1 to 1000'],
    [['--limit', '1001'], '--limit must be a number from 1 to 1000'],
    [['--limit', 'ten'], '--limit must be a number from 1 to 1000'],
    [['--task', 'not-a-uuid'], '--task must be a task id (a UUID)'],
  ])(
    'refuses %j with exit 64, the reason and the command’s help on stderr, nothing on stdout',
    async (args, message) => {
      const result = await mandate('approval', 'list', ...args)
      expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 64, stdout: '' })
      expect(result.stderr).toMatch(
        new RegExp(`^error: ${message.replace(/[()]/g, '\\$&')}\n\nUsage: mandate approval list `),
      )
    },
  )
})

describe.runIf(t.isPostgres)('mandate approval show', { timeout: CLI_TIMEOUT }, () => {
  it('shows one approval, as the admin API does, with who answered and when it was used', async () => {
    const result = await mandate('approval', 'show', approvals.used)
    expect(result.code, result.stderr).toBe(0)
    const row = await t.db
      .selectFrom('approvals')
      .selectAll()
      .where('approval_id', '=', approvals.used)
      .executeTakeFirstOrThrow()
    const shown = JSON.parse(result.stdout)
    expect(shown).toEqual({
      approval_id: approvals.used,
      status: 'used',
      action: 'tickets.delete',
      resource: tickets,
      object_id: 'ticket-2',
      task_id: alice.taskId,
      delegator: 'alice',
      agent: 'agent-one',
      actor_chain: ['agent-one'],
      requested_at: row.created_at.toISOString(),
      expires_at: row.expires_at.toISOString(),
      decided_at: row.decided_at?.toISOString(),
      decided_by: 'test-idp:alice',
      used_at: row.used_at?.toISOString(),
    })
    expect(shown).toEqual(await admin(`/admin/v1/approvals/${approvals.used}`))
    expect(JSON.parse((await mandate('approval', 'show', approvals.expired)).stdout)).toMatchObject({
      status: 'expired',
      delegator: 'bob',
      decided_at: null,
      used_at: null,
    })
  })

  it.each(['00000000-0000-4000-8000-000000000000', 'not-a-uuid'])(
    'answers exit 1 and "approval %s not found" on stderr for an unknown id',
    async (id) => {
      expect(await mandate('approval', 'show', id)).toEqual({
        code: 1,
        stdout: '',
        stderr: `approval ${id} not found\n`,
      })
    },
  )
})

describe.runIf(t.isPostgres)('mandate task show', { timeout: CLI_TIMEOUT }, () => {
  it('prints the actions timeline of the task tree oldest first, and the task’s approvals newest first', async () => {
    const result = await mandate('task', 'show', alice.taskId)
    expect(result.code, result.stderr).toBe(0)
    const shown = JSON.parse(result.stdout) as {
      task: { task_id: string }
      subtasks: Array<{ task_id: string }>
      actions: Array<{ time: string }>
      approvals: Array<{ approval_id: string }>
    }
    expect(shown.task.task_id).toBe(alice.taskId)
    expect(shown.subtasks.map((s) => s.task_id)).toEqual([alice.subtaskId])
    const { pending, used, approved } = approvals
    const step = (
      asked: Asked | undefined,
      action: string,
      object: string,
      outcome: 'allowed' | 'approval_required',
      approvalId: string | null,
      taskId = alice.taskId,
    ) => ({
      time: expect.any(String),
      action,
      resource: tickets,
      object_id: object,
      result: outcome === 'allowed' ? 'allow' : 'deny',
      reason: outcome,
      agent: 'agent-one',
      actor_chain: ['agent-one'],
      task_id: taskId,
      asked_by: 'rs-tickets',
      approval_id: approvalId,
      decision_id: asked?.decisionId,
    })
    const [read, askPending, askUsed, useUsed, askApproved, subRead] = alice.asked
    expect(shown.actions).toEqual([
      step(read, 'tickets.read', 'ticket-1', 'allowed', null),
      step(askPending, 'tickets.delete', 'ticket-1', 'approval_required', pending),
      step(askUsed, 'tickets.delete', 'ticket-2', 'approval_required', used),
      step(useUsed, 'tickets.delete', 'ticket-2', 'allowed', used),
      step(askApproved, 'tickets.delete', 'ticket-3', 'approval_required', approved),
      step(subRead, 'tickets.read', 'ticket-9', 'allowed', null, alice.subtaskId),
    ])
    const times = shown.actions.map((a) => a.time)
    expect(times).toEqual([...times].sort())
    expect(shown.approvals.map((a) => a.approval_id)).toEqual([approved, used, pending])
    expect(shown.approvals).toEqual(
      ((await admin(`/admin/v1/approvals?task_id=${alice.taskId}`)) as { approvals: unknown[] }).approvals,
    )
    expect(shown).toEqual(await admin(`/admin/v1/tasks/${alice.taskId}`))
  })

  it('prints only the task tree’s own: a subtask’s one evaluation and no approvals, bob’s task its refusal', async () => {
    const sub = JSON.parse((await mandate('task', 'show', alice.subtaskId)).stdout) as {
      actions: Array<{ action: string }>
      approvals: unknown[]
    }
    expect(sub.actions.map((a) => a.action)).toEqual(['tickets.read'])
    expect(sub.approvals).toEqual([])
    const other = JSON.parse((await mandate('task', 'show', bob.taskId)).stdout) as {
      actions: Array<{ reason: string }>
      approvals: Array<{ approval_id: string }>
    }
    expect(other.actions.map((a) => a.reason)).toEqual(['approval_required', 'approval_denied', 'approval_required'])
    expect(other.approvals.map((a) => a.approval_id)).toEqual([approvals.expired, approvals.denied])
  })
})
