// A grouped exchange write (db/group.ts) holds the tasks of every issuance in it: one whose task row is
// held FOR UPDATE past the lock bound (a completion still running) fails when its wait ends (lock_timeout
// or statement_timeout, both at three quarters of the bound: db/bounds.ts).
// That failure is its own: an issuance of the same statement that depends on no such task is decided as if
// alone, never failed with it (decision 0013: each call decided on its own).
import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { blankDecision } from '../../src/decisions/store.ts'
import { type IssuanceWrite, writeIssuance } from '../../src/token-exchange/write.ts'
import { useDatabase } from '../support/database.ts'

// A one-second bound: lock waits end after 750 ms (db/bounds.ts).
const t = useDatabase({ timeout: 1 })
const now = Math.floor(Date.now() / 1000)

function issuance(taskPath: string[] = []): IssuanceWrite {
  const decision = blankDecision({
    decision_id: randomUUID(),
    created_at: new Date(now * 1000),
    request_id: null,
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    client_id: 'agent-one',
  })
  const jti = randomUUID()
  return {
    row: {
      jti,
      kid: 'lock-wait',
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
      task_path: taskPath,
    } as never,
    decision: { ...decision, result: 'allow', reason: 'allowed', issued_jti: jti },
    audit: { type: 'token_exchange.issued', at: now, actor: 'agent-one', requestId: null, jti },
    taskPath,
    now,
  }
}

let gate: pg.Client | undefined
beforeAll(async () => {
  if (!t.url) return
  await sql`insert into signing_keys (kid, alg, public_jwk, private_jwk_sealed, activates_at)
    values ('lock-wait', 'ES256', '{}', 'never opened', now())`.execute(t.db)
  gate = new pg.Client({ connectionString: t.url })
  await gate.connect()
})
afterAll(async () => {
  await gate?.end()
})

describe.runIf(t.isPostgres)('a grouped exchange write with one task held past the lock bound', () => {
  it('fails only the issuance of that task; the other in its statement is issued', async () => {
    const taskId = randomUUID()
    await sql`insert into tasks (task_id, client_id, delegator, delegator_issuer, purpose, resources, scope, policy_paths,
        task_path, created_at, expires_at)
      values (${taskId}, 'agent-one', 'alice', 'https://idp.test', 'held', '{https://tickets.test/}', '{tickets:read}',
        '{acme/tickets}', ${[taskId]}::uuid[], ${new Date(now * 1000)}, ${new Date((now + 600) * 1000)})`.execute(t.db)
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
      const plainInput = issuance()
      // Asked in one tick: the first is sent alone; the other two wait for it and leave together.
      const [first, ofTheTask, plain] = await Promise.all([
        settle(writeIssuance(t.db, issuance())),
        settle(writeIssuance(t.db, issuance([taskId]))),
        settle(writeIssuance(t.db, plainInput)),
      ])
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
