// A task completion racing 50 exchanges that use the task (as the requested task, through the subject
// token, through the actor token). The races are made real, not left to timing: a lock the test holds
// on the task row stops the exchanges after every check and the completion at its first step, in the
// order each round needs; then it lets go. Whatever the order, once `complete` has returned no token
// of the task is active, and every exchange either came before it (counted in revoked_tokens) or
// was refused.
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { groupCounts } from '../../src/db/group.ts'
import { TOKEN_INVALID } from '../../src/oauth/descriptions.ts'
import { useDatabase } from '../support/database.ts'
import { personToken } from '../support/idp.ts'
import { ACCESS_TOKEN, exchange, exchanged, introspect, type Params, tasksCall } from '../support/oauth.ts'
import { useServer } from '../support/server.ts'
import { startTask } from '../support/tasks.ts'

// 50 exchanges may each hold a connection while they wait: the pool must outnumber them, and their lock
// waits must outlast the gathering of all 50 on a loaded machine.
const t = useDatabase({ poolSize: 60, timeout: 60 })
const server = useServer(t)
const tickets = 'https://tickets.test/'
const EXCHANGES = 50

let gate: pg.Client | undefined
let watcher: pg.Client | undefined
beforeAll(async () => {
  if (!t.url) return
  gate = new pg.Client({ connectionString: t.url })
  watcher = new pg.Client({ connectionString: t.url })
  await Promise.all([gate.connect(), watcher.connect()])
})
afterAll(async () => {
  await Promise.all([gate?.end(), watcher?.end()])
})

async function setUp() {
  const {
    task: { task_id: taskId },
    alice,
  } = await startTask(server.url, { params: { scope: 'tickets:read tickets:write' } })
  const agentToken = await exchanged(server.url, 'agent-one', {
    subject_token: alice,
    resource: tickets,
    task_id: taskId,
  })
  // Three ways an exchange depends on the task, each with the reason it is refused for once the task has ended.
  const variants: Array<{ client: string; params: Params; reason: string }> = [
    {
      client: 'agent-one',
      params: { subject_token: alice, resource: tickets, task_id: taskId },
      reason: 'task.invalid',
    },
    {
      client: 'sub-agent',
      params: { subject_token: agentToken, resource: tickets, scope: 'tickets:read' },
      reason: 'subject_token.invalid',
    },
    {
      client: 'agent-one',
      params: { subject_token: alice, resource: tickets, actor_token: agentToken, actor_token_type: ACCESS_TOKEN },
      reason: 'actor_token.invalid',
    },
  ]
  return { taskId, variants }
}

type Variant = Awaited<ReturnType<typeof setUp>>['variants'][number]

const fire = (variants: Variant[], count = EXCHANGES) =>
  Array.from({ length: count }, (_, i) => {
    const variant = variants[i % variants.length] as Variant
    return exchange(server.url, variant.client, variant.params).then(async (response) => ({
      variant,
      status: response.status,
      decisionId: response.headers.get('x-decision-id'),
      body: (await response.json()) as { access_token?: string; error?: string; error_description?: string },
    }))
  })

/** Waits until `count` backends of this database wait for a lock. */
async function waiting(count: number): Promise<void> {
  await until(
    async () => (await lockWaiters()) >= count,
    () => `${count} backends waiting for a lock`,
  )
}

/**
 * Waits until `count` exchanges have sent their write and every statement carrying them waits for a lock,
 * beside `others` backends that do. Concurrent exchanges share write statements (db/group.ts), so the
 * writes are counted where they are grouped and the statements where they wait.
 */
async function writesWaiting(count: number, others = 0): Promise<void> {
  await until(
    async () => {
      const writes = groupCounts(server.app.database.db).get('token_exchange.issue')
      if (writes?.sent !== count || writes.waiting !== 0) return false
      return (await lockWaiters()) >= writes.statements + others
    },
    () => `${count} exchange writes sent and waiting for a lock, beside ${others} others`,
  )
}

async function lockWaiters(): Promise<number> {
  // Its own connection: activity statistics are a snapshot per transaction, and the gate's stays open.
  const { rows } = await (watcher as pg.Client).query<{ n: string }>(
    `select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
  )
  return Number(rows[0]?.n)
}

async function until(done: () => Promise<boolean>, what: () => string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`not reached within 20 s: ${what()}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const complete = (taskId: string) =>
  tasksCall(server.url, 'agent-one', `/tasks/${taskId}/complete`, { outcome: 'cancelled' }).then(async (r) => ({
    status: r.status,
    body: (await r.json()) as { status: string; revoked_tokens: number },
  }))

/** Once `complete` has returned: nothing of the task is active, and the lineage holds exactly what was issued. */
async function expectAllEnded(taskId: string, issued: string[]): Promise<void> {
  for (const token of issued) expect(await introspect(server.url, token)).toEqual({ active: false })
  const shown = (await (await tasksCall(server.url, 'agent-one', `/tasks/${taskId}`)).json()) as {
    tokens: { issued: number; active: number }
  }
  // The agent's own token plus every exchange that succeeded.
  expect(shown.tokens).toEqual({ issued: issued.length + 1, active: 0 })
}

// Generous: under load on two cores, 50 exchanges and their wait for the gate take a while.
describe.skipIf(!t.isPostgres)('a completion racing 50 exchanges', { timeout: 90_000 }, () => {
  it('every variant succeeds while the task is live (so the races below race real exchanges)', async () => {
    const { variants } = await setUp()
    for (const variant of variants) {
      const response = await exchange(server.url, variant.client, variant.params)
      expect(response.status, await response.clone().text()).toBe(200)
    }
  })

  it('exchanges that reached the task first are counted and ended by the completion (3 rounds)', async () => {
    for (let round = 0; round < 3; round++) {
      const { taskId, variants } = await setUp()
      const client = gate as pg.Client
      await client.query('begin')
      await client.query('select 1 from tasks where task_id = $1 for update', [taskId])
      const exchanges = fire(variants)
      await writesWaiting(EXCHANGES) // every exchange has passed its checks and waits at the task
      const completion = complete(taskId)
      await writesWaiting(EXCHANGES, 1)
      await client.query('commit')
      const completed = await completion
      const results = await Promise.all(exchanges)
      const issued = results.flatMap((r) => (r.body.access_token ? [r.body.access_token] : []))
      expect(results.map((r) => r.status)).toEqual(Array(EXCHANGES).fill(200))
      expect(completed).toMatchObject({ status: 200, body: { status: 'completed', revoked_tokens: EXCHANGES + 1 } })
      await expectAllEnded(taskId, issued)
    }
  })

  it('exchanges that reached the task after the completion are refused, each as a token problem (3 rounds)', async () => {
    for (let round = 0; round < 3; round++) {
      const { taskId, variants } = await setUp()
      const client = gate as pg.Client
      await client.query('begin')
      await client.query('select 1 from tasks where task_id = $1 for update', [taskId])
      const completion = complete(taskId)
      await waiting(1)
      const exchanges = fire(variants) // they pass their checks: the completion has not committed yet
      await writesWaiting(EXCHANGES, 1)
      const tokensBefore = await t.db.selectFrom('issued_tokens').select('jti').execute()
      await client.query('commit')
      const completed = await completion
      const results = await Promise.all(exchanges)
      expect(completed).toMatchObject({ status: 200, body: { status: 'completed', revoked_tokens: 1 } })
      for (const result of results) {
        expect({ status: result.status, body: result.body }).toEqual({
          status: 400,
          body: { error: 'invalid_request', error_description: TOKEN_INVALID },
        })
        const decision = await t.db
          .selectFrom('decisions')
          .select(['result', 'reason', 'issued_jti'])
          .where('decision_id', '=', result.decisionId as string)
          .executeTakeFirstOrThrow()
        expect(decision).toEqual({ result: 'deny', reason: result.variant.reason, issued_jti: null })
      }
      expect(await t.db.selectFrom('issued_tokens').select('jti').execute()).toHaveLength(tokensBefore.length)
      await expectAllEnded(taskId, [])
    }
  })

  it('leaves no active token when completion and exchanges run free (3 rounds)', async () => {
    for (let round = 0; round < 3; round++) {
      const { taskId, variants } = await setUp()
      const exchanges = fire(variants)
      await new Promise((resolve) => setTimeout(resolve, round * 15))
      const completed = await complete(taskId)
      const results = await Promise.all(exchanges)
      const issued = results.flatMap((r) => (r.body.access_token ? [r.body.access_token] : []))
      expect(results.every((r) => r.status === 200 || r.body.error_description === TOKEN_INVALID)).toBe(true)
      // Every exchange that succeeded committed before the completion, which counted it.
      expect(completed.body.revoked_tokens).toBe(issued.length + 1)
      await expectAllEnded(taskId, issued)
    }
  })

  it('orders a subtask created while its parent completes: created and completed with it, or refused', async () => {
    const client = gate as pg.Client
    for (const order of ['creation first', 'completion first'] as const) {
      const { taskId } = await setUp()
      const rowsBefore = await t.db.selectFrom('tasks').select('task_id').execute()
      await client.query('begin')
      await client.query('select 1 from tasks where task_id = $1 for update', [taskId])
      const create = () =>
        personToken({ scope: 'tickets:read' }).then((alice) =>
          tasksCall(server.url, 'agent-one', '/tasks', {
            subject_token: alice,
            subject_token_type: ACCESS_TOKEN,
            purpose: 'a part of the work',
            resource: tickets,
            parent_task_id: taskId,
          }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> })),
        )
      let creation: ReturnType<typeof create>
      let completion: ReturnType<typeof complete>
      if (order === 'creation first') {
        creation = create()
        await waiting(1)
        completion = complete(taskId)
      } else {
        completion = complete(taskId)
        await waiting(1)
        creation = create()
      }
      await waiting(2)
      await client.query('commit')
      const [created, completed] = await Promise.all([creation, completion])
      expect(completed.status).toBe(200)
      const rowsAfter = await t.db.selectFrom('tasks').select('task_id').execute()
      if (order === 'creation first') {
        expect(created.status).toBe(201)
        const shown = await tasksCall(server.url, 'agent-one', `/tasks/${created.body.task_id}`)
        expect(await shown.json()).toMatchObject({ status: 'completed', outcome: 'cancelled' })
        expect(rowsAfter).toHaveLength(rowsBefore.length + 1)
      } else {
        expect(created).toEqual({ status: 400, body: { error: 'invalid_request', error_description: TOKEN_INVALID } })
        expect(rowsAfter).toHaveLength(rowsBefore.length)
      }
    }
  })

  it('locks a subtask exchange ancestors first: no deadlock with a completion of the parent, either order', async () => {
    const client = gate as pg.Client
    for (const order of ['exchanges first', 'completion first'] as const) {
      const { taskId } = await setUp()
      const {
        task: { task_id: subtaskId },
        alice,
      } = await startTask(server.url, { params: { purpose: 'a part of the work', parent_task_id: taskId } })
      // Exchanges for the subtask lock [parent, subtask]; the completion of the parent locks the same two.
      const variant = {
        client: 'agent-one',
        params: { subject_token: alice, resource: tickets, task_id: subtaskId },
        reason: 'task.invalid',
      }
      await client.query('begin')
      await client.query('select 1 from tasks where task_id = $1 for update', [taskId])
      const count = 10
      let exchanges: ReturnType<typeof fire>
      let completion: ReturnType<typeof complete>
      if (order === 'exchanges first') {
        exchanges = fire([variant], count)
        await writesWaiting(count)
        completion = complete(taskId)
      } else {
        completion = complete(taskId)
        await waiting(1)
        exchanges = fire([variant], count)
      }
      await writesWaiting(count, 1)
      await client.query('commit')
      const completed = await completion
      const results = await Promise.all(exchanges)
      const issued = results.flatMap((r) => (r.body.access_token ? [r.body.access_token] : []))
      expect(completed.status).toBe(200)
      expect(results.map((r) => r.status)).toEqual(Array(count).fill(order === 'exchanges first' ? 200 : 400))
      expect(completed.body.revoked_tokens).toBe(issued.length + 1)
      for (const token of issued) expect(await introspect(server.url, token)).toEqual({ active: false })
    }
  })

  it('completes nested tasks racing each other: no deadlock, every token counted once', async () => {
    const client = gate as pg.Client
    for (const first of ['root', 'child'] as const) {
      const { taskId: root } = await setUp()
      const alice = await personToken({ scope: 'tickets:read tickets:write' })
      const subtask = async (parent: string) => {
        const { task_id: id } = (
          await startTask(server.url, { alice, params: { purpose: 'a part of the work', parent_task_id: parent } })
        ).task
        await exchanged(server.url, 'agent-one', { subject_token: alice, resource: tickets, task_id: id })
        return id
      }
      const child = await subtask(root)
      await subtask(child) // a grandchild: both completions lock it
      // Hold the child: the root's completion stops there (after the root), the child's at its start.
      await client.query('begin')
      await client.query('select 1 from tasks where task_id = $1 for update', [child])
      const [one, two] = first === 'root' ? [root, child] : [child, root]
      const completions = [complete(one)]
      await waiting(1)
      completions.push(complete(two))
      await waiting(2)
      await client.query('commit')
      const [a, b] = await Promise.all(completions)
      expect([a?.status, b?.status]).toEqual([200, 200])
      // Three tokens (root, child, grandchild), each revoked by exactly one of the two completions.
      expect((a?.body.revoked_tokens ?? 0) + (b?.body.revoked_tokens ?? 0)).toBe(3)
      const shown = (await (await tasksCall(server.url, 'agent-one', `/tasks/${root}`)).json()) as {
        status: string
        tokens: { issued: number; active: number }
      }
      expect(shown).toMatchObject({ status: 'completed', tokens: { issued: 3, active: 0 } })
    }
  })
})
