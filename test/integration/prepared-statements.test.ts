// Statements run prepared under a bounded set of names (db/statement-names.ts, db/bounded-pool.ts): a
// repeated query reuses its statement, the set never grows past its bound, and a migration that changes a
// prepared `select *` (SQLSTATE 0A000, cached plan must not change result type) does not fail requests.
import { randomUUID } from 'node:crypto'
import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { boundedPool } from '../../src/db/bounded-pool.ts'
import type { DB } from '../../src/db/schema.ts'
import { useDatabase } from '../support/database.ts'
import { accessToken } from '../support/oauth.ts'
import { useServer } from '../support/server.ts'
import { startTask } from '../support/tasks.ts'

// One connection, shared by the tests and the server: whatever one prepares, the next one finds.
const t = useDatabase({ poolSize: 1 })
const server = useServer(t)

const prepared = (db: Kysely<DB>) =>
  sql<{ name: string; statement: string; executions: number }>`
    select name, statement, (generic_plans + custom_plans)::int as executions
    from pg_prepared_statements order by name`
    .execute(db)
    .then((result) => result.rows)

const backendPid = (db: Kysely<DB>) =>
  sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db).then((result) => result.rows[0]?.pid)

/** A migration run by another process, as during a rolling deploy. */
async function migrate(statement: string): Promise<void> {
  const other = new pg.Client({ connectionString: t.url })
  await other.connect()
  try {
    await other.query(statement)
  } finally {
    await other.end()
  }
}

describe.skipIf(!t.isPostgres)('prepared statements', () => {
  it('prepares a repeated query once under one name and executes it again', async () => {
    const query = t.db.selectFrom('tasks').select('task_id').where('task_id', '=', randomUUID())
    for (let i = 0; i < 3; i++) await query.execute()
    const statement = (await prepared(t.db)).find((row) => row.statement === query.compile().sql)
    expect(statement).toEqual({ name: expect.stringMatching(/^m\d+$/), statement: query.compile().sql, executions: 3 })
  })

  it('sends a list as one array parameter: one statement whatever its length', async () => {
    const ids = (n: number) => Array.from({ length: n }, () => randomUUID())
    const texts = [1, 2, 5].map(
      (n) =>
        t.db
          .selectFrom('tasks')
          .select('task_id')
          .where((eb) => eb('task_id', '=', eb.fn.any(eb.val(ids(n)))))
          .compile().sql,
    )
    expect(new Set(texts)).toEqual(new Set(['select "task_id" from "tasks" where "task_id" = any($1)']))
  })

  it('answers a request whose prepared select * a migration changed, and replaces the connection', async () => {
    const { task } = await startTask(server.url)
    const adminToken = await accessToken(server.url, 'mandate-admin', {
      resource: 'urn:mandate:admin',
      scope: 'mandate:admin',
    })
    const detail = () =>
      fetch(`${server.adminUrl}/admin/v1/tasks/${task.task_id}`, { headers: { authorization: `Bearer ${adminToken}` } })
    const before = await detail()
    const expected = await before.json()
    expect(before.status).toBe(200)
    const selectTask = 'select * from "tasks" where "task_id" = $1'
    expect((await prepared(t.db)).map((row) => row.statement)).toContain(selectTask)
    const pid = await backendPid(t.db)

    await migrate('alter table tasks add column prepared_statements_test_a text')

    const after = await detail()
    expect({ status: after.status, body: await after.json() }).toEqual({ status: 200, body: expected })
    // The stale connection left the pool when the request released it; its successor prepares afresh.
    expect(await backendPid(t.db)).not.toBe(pid)
    expect((await detail()).status).toBe(200)
  })

  it('never retries inside a transaction the stale statement aborted: the error surfaces, the connection goes', async () => {
    const taskId = randomUUID()
    const byId = (db: Kysely<DB>) => db.selectFrom('tasks').selectAll().where('task_id', '=', taskId).execute()
    await byId(t.db)
    const pid = await backendPid(t.db)

    await migrate('alter table tasks add column prepared_statements_test_b text')

    await expect(t.db.transaction().execute((trx) => byId(trx))).rejects.toMatchObject({ code: '0A000' })
    expect(await backendPid(t.db)).not.toBe(pid)
    expect(await byId(t.db)).toEqual([])
  })

  it('names at most the bound of distinct texts, warns once, and runs the rest unnamed', async () => {
    const warnings: unknown[] = []
    const log = { warn: (fields: object, msg: string) => void warnings.push({ fields, msg }) }
    const pool = boundedPool(
      { url: t.url as string, size: 1, applicationName: 'test', timeout: 10, preparedStatements: 2 },
      log,
    )
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) })
    try {
      // Four texts (the number is part of the text, as a literal built from data would be), each run twice.
      const distinct = (n: number) => sql<{ n: number; p: number }>`select ${sql.raw(String(n))} as n, ${n}::int as p`
      for (const n of [1, 2, 3, 4, 1, 2, 3, 4]) expect((await distinct(n).execute(db)).rows).toEqual([{ n, p: n }])
      expect((await prepared(db)).map(({ name }) => name)).toEqual(['m1', 'm2'])
      expect(warnings).toEqual([
        {
          fields: { limit: 2 },
          msg: 'prepared statement names all taken; new SQL texts run unnamed (a text built from data?)',
        },
      ])
    } finally {
      await db.destroy()
    }
  })
})
