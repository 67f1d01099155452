// Bounded under stalls: the real app on real pg pools, its database behind a TCP proxy the test
// pauses (packets stop, sockets stay open), drops (every socket destroyed mid-request) or refuses.
// Every edge answers 503 + Retry-After within MANDATE_DATABASE_TIMEOUT, the process survives (an
// unheard pg 'error' would fail this file as an uncaught exception), and it recovers by itself.
import { setTimeout as sleep } from 'node:timers/promises'
import { sql } from 'kysely'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { connectDatabase } from '../../src/db/connect.ts'
import { useDatabase } from '../support/database.ts'
import { ACCESS_TOKEN, accessToken, clientCredentials, exchange, post, revoke, tasksCall } from '../support/oauth.ts'
import { useServer } from '../support/server.ts'
import { startTask } from '../support/tasks.ts'
import { useStallableDatabase } from '../support/tcp-proxy.ts'

const BOUND = 1 // seconds: this file's MANDATE_DATABASE_TIMEOUT
const SLACK = 1500 // ms a loaded two-core machine may add to the bound (HTTP, scheduling)
const t = useDatabase()
const stall = useStallableDatabase(t, { timeout: BOUND })
// The server runs on the pool opened above (MANDATE_DATABASE_TIMEOUT is read where the pool is opened).
const server = useServer(stall)
const tickets = 'https://tickets.test/'
const unavailable = {
  error: 'temporarily_unavailable',
  error_description: 'the authorization server is temporarily unavailable, retry later',
}

interface Answer {
  name: string
  status: number
  retryAfter: string | null
  body: unknown
  ms: number
}

/** Runs each call, timed; a call that hangs fails the test at 15 s instead of passing late. */
async function timed(calls: Record<string, (signal: AbortSignal) => Promise<Response>>): Promise<Answer[]> {
  return Promise.all(
    Object.entries(calls).map(async ([name, call]) => {
      const started = performance.now()
      const response = await call(AbortSignal.timeout(15_000))
      const body = await response.json().catch(() => undefined)
      return {
        name,
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        body,
        ms: performance.now() - started,
      }
    }),
  )
}

function expectUnavailableWithinBound(answers: Answer[]): void {
  for (const answer of answers) {
    expect({ name: answer.name, status: answer.status, retryAfter: answer.retryAfter }).toEqual({
      name: answer.name,
      status: 503,
      retryAfter: '5',
    })
    if (answer.name !== 'readiness') expect(answer.body, answer.name).toEqual(unavailable)
    expect(answer.ms, `${answer.name} took ${Math.round(answer.ms)} ms`).toBeLessThan(BOUND * 1000 + SLACK)
  }
}

/** Polls until the server answers the introspection normally again: it must recover on its own. */
async function recovered(token: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 15_000
  for (;;) {
    const response = await post(`${server.url}/token/introspection`, { token }, { clientId: 'rs-tickets' })
    if (response.status === 200) return (await response.json()) as Record<string, unknown>
    if (Date.now() > deadline) throw new Error(`still ${response.status} after the database came back`)
    await sleep(100)
  }
}

const withAuth = (token: string, signal: AbortSignal) => ({ headers: { authorization: `Bearer ${token}` }, signal })

const taskRow = (taskId: string) =>
  t.db.selectFrom('tasks').select(['completed_at']).where('task_id', '=', taskId).executeTakeFirstOrThrow()

describe.runIf(t.isPostgres)('a stalled database', () => {
  it('answers 503 + Retry-After within the bound at every edge while paused, changes nothing, and recovers by itself', async () => {
    const token = await accessToken(server.url, 'agent-one')
    const admin = await accessToken(server.url, 'mandate-admin', {
      resource: 'urn:mandate:admin',
      scope: 'mandate:admin',
    })
    const {
      alice,
      task: { task_id: taskId },
    } = await startTask(server.url)
    const before = await t.db
      .selectFrom('issued_tokens')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow()

    stall.proxy.pause()
    let answers: Answer[]
    try {
      answers = await timed({
        token: () => clientCredentials(server.url, 'agent-one', { resource: tickets }),
        introspection: () => post(`${server.url}/token/introspection`, { token }, { clientId: 'rs-tickets' }),
        revocation: () => revoke(server.url, token, 'agent-one'),
        exchange: () => exchange(server.url, 'agent-one', { subject_token: alice, resource: tickets, task_id: taskId }),
        'task creation': () =>
          tasksCall(server.url, 'agent-one', '/tasks', {
            subject_token: alice,
            subject_token_type: ACCESS_TOKEN,
            purpose: 'Never created',
            resource: tickets,
          }),
        'task completion': () => tasksCall(server.url, 'agent-one', `/tasks/${taskId}/complete`, { outcome: 'failed' }),
        admin: (signal) => fetch(`${server.adminUrl}/admin/v1/decisions`, withAuth(admin, signal)),
        readiness: (signal) => fetch(`${server.managementUrl}/health/ready`, { signal }),
      })
    } finally {
      stall.proxy.resume()
    }
    expectUnavailableWithinBound(answers)

    expect(await recovered(token)).toMatchObject({ active: true })
    expect((await taskRow(taskId)).completed_at).toBeNull()
    const after = await t.db
      .selectFrom('issued_tokens')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow()
    expect(after.n).toBe(before.n)
    expect((await fetch(`${server.managementUrl}/health/ready`)).status).toBe(200)
  })

  it('answers 503 within the bound when a request waits for a task row another transaction holds FOR UPDATE', async () => {
    const {
      alice,
      task: { task_id: taskId },
    } = await startTask(server.url)
    const admin = await accessToken(server.url, 'mandate-admin', {
      resource: 'urn:mandate:admin',
      scope: 'mandate:admin',
    })
    const holder = new pg.Client({ connectionString: t.url })
    await holder.connect()
    try {
      await holder.query('begin')
      await holder.query('select 1 from tasks where task_id = $1 for update', [taskId])
      // And the decisions table whole, for the admin API's read.
      await holder.query('lock table decisions in access exclusive mode')
      const answers = await timed({
        'task completion': () => tasksCall(server.url, 'agent-one', `/tasks/${taskId}/complete`, { outcome: 'failed' }),
        exchange: () => exchange(server.url, 'agent-one', { subject_token: alice, resource: tickets, task_id: taskId }),
        admin: (signal) => fetch(`${server.adminUrl}/admin/v1/decisions`, withAuth(admin, signal)),
      })
      expectUnavailableWithinBound(answers)
    } finally {
      await holder.query('rollback')
      await holder.end()
    }
    expect((await taskRow(taskId)).completed_at).toBeNull()
    const completed = await tasksCall(server.url, 'agent-one', `/tasks/${taskId}/complete`, { outcome: 'failed' })
    expect(completed.status).toBe(200)
  })

  it('survives every connection dropped mid-request (503 within the bound), and recovers by itself', async () => {
    const token = await accessToken(server.url, 'agent-one')
    stall.proxy.pause()
    // The requests take their connections and wait on the stalled sockets; then every socket dies.
    const pending = timed({
      introspection: () => post(`${server.url}/token/introspection`, { token }, { clientId: 'rs-tickets' }),
      token: () => clientCredentials(server.url, 'agent-one', { resource: tickets }),
      revocation: () => revoke(server.url, token, 'agent-one'),
    })
    await sleep(200)
    stall.proxy.drop()
    stall.proxy.resume()
    expectUnavailableWithinBound(await pending)
    expect(await recovered(token)).toMatchObject({ active: true })
  })

  it('answers 503 within the bound while the database is stopped under load, and recovers once it is back', async () => {
    const token = await accessToken(server.url, 'agent-one')
    stall.proxy.pause()
    const inFlight = timed({
      introspection: () => post(`${server.url}/token/introspection`, { token }, { clientId: 'rs-tickets' }),
      token: () => clientCredentials(server.url, 'agent-one', { resource: tickets }),
    })
    await sleep(200)
    stall.proxy.refuse() // stopped with -m immediate: every connection dies, new ones are refused
    try {
      expectUnavailableWithinBound(await inFlight)
      expectUnavailableWithinBound(
        await timed({
          introspection: () => post(`${server.url}/token/introspection`, { token }, { clientId: 'rs-tickets' }),
          token: () => clientCredentials(server.url, 'agent-one', { resource: tickets }),
          readiness: (signal) => fetch(`${server.managementUrl}/health/ready`, { signal }),
        }),
      )
    } finally {
      stall.proxy.resume()
    }
    expect(await recovered(token)).toMatchObject({ active: true })
  })

  it('closes within the bound while the database is paused, so a SIGTERM during a stall still ends the process', async () => {
    const other = await connectDatabase(
      { databaseUrl: stall.url, databasePoolSize: 2, dataDir: '.', databaseTimeout: BOUND },
      { warn: () => {}, info: () => {} },
    )
    await sql`select 1`.execute(other.db)
    const listener = other.listen('mandate_stall_test', () => {})
    while (!listener.connected()) await sleep(20)
    stall.proxy.pause()
    try {
      const started = performance.now()
      await other.close()
      expect(performance.now() - started).toBeLessThan(BOUND * 1000 + SLACK)
    } finally {
      stall.proxy.resume()
    }
  })

  it('ends a transaction left idle (a paused process) within the bound, releasing its task locks', async () => {
    const {
      task: { task_id: taskId },
    } = await startTask(server.url)
    const paused = stall.db
      .transaction()
      .execute(async (trx) => {
        await sql`select 1 from tasks where task_id = ${taskId} for update`.execute(trx)
        await sleep(BOUND * 1000 + 1500) // the process stops here, its transaction open
        await sql`select 1`.execute(trx)
      })
      .then(
        () => 'committed',
        (error: Error) => error.message,
      )
    await sleep(BOUND * 1000 + 700)
    const other = new pg.Client({ connectionString: t.url })
    await other.connect()
    try {
      // nowait: the row must already be free, not after some wait.
      await other.query('begin')
      const { rowCount } = await other.query('select 1 from tasks where task_id = $1 for update nowait', [taskId])
      expect(rowCount).toBe(1)
      await other.query('rollback')
    } finally {
      await other.end()
    }
    expect(await paused).not.toBe('committed')
  })
})

// The database's own view: every pooled session of the server carries the bounds.
describe.runIf(t.isPostgres)('the server sessions', () => {
  it('carry statement, lock and idle-in-transaction timeouts derived from MANDATE_DATABASE_TIMEOUT', async () => {
    const { rows } = await sql<{ name: string; setting: string }>`
      select name, setting from pg_settings
      where name in ('statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout')
      order by name`.execute(stall.db)
    expect(Object.fromEntries(rows.map((row) => [row.name, row.setting]))).toEqual({
      statement_timeout: String(BOUND * 750),
      lock_timeout: String(BOUND * 750),
      idle_in_transaction_session_timeout: String(BOUND * 1000),
    })
  })
})
