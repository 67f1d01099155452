// Which ended task an exchange's write reports when several on its path ended meanwhile (a completion of a
// parent stamps every subtask too): the ancestor-most, in the one lock order, as before group commit. The
// grant names the refusal by it (grant.ts endedReason): the subject token's task gives
// subject_token.invalid, the requested task task.invalid; the report must not depend on how uuids sort.
import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import { beforeAll, describe, expect, it } from 'vitest'
import { writeIssuance } from '../../src/token-exchange/write.ts'
import { useDatabase } from '../support/database.ts'
import { insertTask, issuanceWrite, placeholderSigningKey } from '../support/rows.ts'

const t = useDatabase()
const now = Math.floor(Date.now() / 1000)

/** A uuid sorting first (`0…`) or last (`f…`) among task ids. */
const uuidSorting = (first: boolean) =>
  first ? `00000000-0000-4000-8000-${randomUUID().slice(-12)}` : `ffffffff-ffff-4fff-bfff-${randomUUID().slice(-12)}`

beforeAll(() => placeholderSigningKey(t.db, 'ended-tasks'))

describe.runIf(t.isPostgres)('an exchange write finding several tasks of its path ended', () => {
  it.each([true, false])('reports the parent, whichever sorts first (subtask id sorting first: %s)', async (first) => {
    const parent = uuidSorting(!first)
    const subtask = uuidSorting(first)
    await insertTask(t.db, { at: now * 1000, completed: true, taskId: parent })
    // The parent's completion stamped it too.
    await insertTask(t.db, { at: now * 1000, completed: true, taskId: subtask, parent })
    // The subject token's task (the parent) and the requested subtask under it.
    const input = issuanceWrite('ended-tasks', now, { taskPath: [parent, subtask] })
    const outcome = await writeIssuance(t.db, input)
    expect(outcome).toEqual({ issued: false, problem: 'task_ended', taskId: parent })
    const written = await sql<{
      n: number
    }>`select (select count(*) from issued_tokens where jti = ${input.row.jti})::int
      + (select count(*) from decisions where decision_id = ${input.decision.decision_id})::int as n`.execute(t.db)
    expect(written.rows[0]?.n).toBe(0)
  })
})
