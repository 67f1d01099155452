// A grouped exchange write (db/group.ts) holds the tasks of every issuance in it: one whose task row is
// held FOR UPDATE past the lock bound (a completion still running) fails when its wait ends (lock_timeout
// or statement_timeout, both at three quarters of the bound: db/bounds.ts).
// That failure is its own: an issuance of the same statement that depends on no such task is decided as if
// alone, never failed with it (decision 0013: each call decided on its own).
import { sql } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeIssuance } from '../../src/token-exchange/write.ts'
import { useDatabase } from '../support/database.ts'
import { insertTask, issuanceWrite, placeholderSigningKey } from '../support/rows.ts'
import { statementsOf } from '../support/statements.ts'

// A one-second bound: lock waits end after 750 ms (db/bounds.ts).
const t = useDatabase({ timeout: 1 })
const now = Math.floor(Date.now() / 1000)

const issuance = (taskPath: string[] = []) => issuanceWrite('lock-wait', now, { taskPath })

let gate: pg.Client | undefined
beforeAll(async () => {
  if (!t.url) return
  await placeholderSigningKey(t.db, 'lock-wait')
  gate = new pg.Client({ connectionString: t.url })
  await gate.connect()
})
afterAll(async () => {
  await gate?.end()
})

describe.runIf(t.isPostgres)('a grouped exchange write with one task held past the lock bound', () => {
  it('fails only the issuance of that task; the other in its statement is issued', async () => {
    const taskId = await insertTask(t.db, { at: now * 1000 })
    // Another live task, so every issuance here is one that holds tasks (write.ts groups those apart).
    const other = await insertTask(t.db, { at: now * 1000 })
    const client = gate as pg.Client
    await client.query('begin')
    // A completion of the task still running: its row held FOR UPDATE.
    await client.query('select 1 from tasks where task_id = $1 for update', [taskId])
    try {
      const settle = (p: Promise<unknown>) =>
        p.then(
          (outcome) => ({ outcome }),
          (error: { code?: string }) => ({ error: error.code }),
        )
      const plainInput = issuance([other])
      // Asked in one tick: the first is sent alone; the other two wait for it and leave together.
      const { result, statements } = await statementsOf(() =>
        Promise.all([
          settle(writeIssuance(t.db, issuance([other]))),
          settle(writeIssuance(t.db, issuance([taskId]))),
          settle(writeIssuance(t.db, plainInput)),
        ]),
      )
      const [first, ofTheTask, plain] = result
      // The first alone; the group of two (refused at once: NOWAIT); then each of the two alone.
      expect(statements.filter((text) => text.includes('insert into issued_tokens'))).toHaveLength(1 + 1 + 2)
      expect(first).toEqual({ outcome: { issued: true } })
      // Its own fate, as alone: the lock wait ends (55P03 or 57014, both at 750 ms), a 503 the client may retry.
      expect(['55P03', '57014']).toContain((ofTheTask as { error?: string }).error)
      expect(plain).toEqual({ outcome: { issued: true } })
      const written = await sql<{
        n: number
      }>`select count(*)::int as n from issued_tokens where jti = ${plainInput.row.jti}`.execute(t.db)
      expect(written.rows[0]?.n).toBe(1)
    } finally {
      await client.query('rollback')
    }
  })
})
