// Which ended task an exchange's write reports when several on its path ended meanwhile (a completion of a
// parent stamps every subtask too): the ancestor-most, in the one lock order, as before group commit. The
// grant names the refusal by it (grant.ts endedReason): the subject token's task gives
// subject_token.invalid, the requested task task.invalid; the report must not depend on how uuids sort.
import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import { beforeAll, describe, expect, it } from 'vitest'
import { blankDecision } from '../../src/decisions/store.ts'
import { writeIssuance } from '../../src/token-exchange/write.ts'
import { useDatabase } from '../support/database.ts'

const t = useDatabase()
const now = Math.floor(Date.now() / 1000)

/** A uuid sorting first (`0…`) or last (`f…`) among task ids. */
const uuidSorting = (first: boolean) =>
  first ? `00000000-0000-4000-8000-${randomUUID().slice(-12)}` : `ffffffff-ffff-4fff-bfff-${randomUUID().slice(-12)}`

async function completedTask(taskId: string, parent?: string): Promise<void> {
  await sql`insert into tasks (task_id, client_id, delegator, delegator_issuer, purpose, resources, scope, policy_paths,
      parent_task_id, task_path, created_at, expires_at, completed_at, outcome)
    values (${taskId}, 'agent-one', 'alice', 'https://idp.test', 'ended tasks', '{https://tickets.test/}', '{tickets:read}',
      '{acme/tickets}', ${parent ?? null}, ${[...(parent ? [parent] : []), taskId]}::uuid[], ${new Date(now * 1000)},
      ${new Date((now + 600) * 1000)}, ${new Date(now * 1000)}, 'cancelled')`.execute(t.db)
}

beforeAll(async () => {
  await sql`insert into signing_keys (kid, alg, public_jwk, private_jwk_sealed, activates_at)
    values ('ended-tasks', 'ES256', '{}', 'never opened', now())`.execute(t.db)
})

describe.runIf(t.isPostgres)('an exchange write finding several tasks of its path ended', () => {
  it.each([true, false])('reports the parent, whichever sorts first (subtask id sorting first: %s)', async (first) => {
    const parent = uuidSorting(!first)
    const subtask = uuidSorting(first)
    await completedTask(parent)
    await completedTask(subtask, parent) // the parent's completion stamped it too
    const decision = blankDecision({
      decision_id: randomUUID(),
      created_at: new Date(now * 1000),
      request_id: null,
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      client_id: 'agent-one',
    })
    const jti = randomUUID()
    const outcome = await writeIssuance(t.db, {
      row: {
        jti,
        kid: 'ended-tasks',
        grant_type: decision.grant_type,
        client_id: 'agent-one',
        sub: 'alice',
        aud: ['https://tickets.test/'],
        scope: ['tickets:read'],
        issued_at: new Date(now * 1000),
        expires_at: new Date((now + 60) * 1000),
        parent_jti: null,
        ancestors: [],
        claims: {},
        task_path: [parent, subtask],
      } as never,
      decision: { ...decision, result: 'allow', reason: 'allowed', issued_jti: jti },
      audit: { type: 'token_exchange.issued', at: now, actor: 'agent-one', requestId: null, jti },
      // The subject token's task (the parent) and the requested subtask under it.
      taskPath: [parent, subtask],
      now,
    })
    expect(outcome).toEqual({ issued: false, problem: 'task_ended', taskId: parent })
    const written = await sql<{ n: number }>`select (select count(*) from issued_tokens where jti = ${jti})::int
      + (select count(*) from decisions where decision_id = ${decision.decision_id})::int as n`.execute(t.db)
    expect(written.rows[0]?.n).toBe(0)
  })
})
