// Lineage and task reads and lineage writes of concurrent requests share statements (db/group.ts) and
// answer each caller exactly as a statement of its own would: its own clock, its own row, nothing from a
// group already sent. (The exchange's grouped write: issuance-write.test.ts.)
import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import { beforeAll, describe, expect, it } from 'vitest'
import { findActiveToken, recordIssuedToken, revokeToken } from '../../src/lineage/tokens.ts'
import { findTaskWithLiveness } from '../../src/tasks/store.ts'
import { useDatabase } from '../support/database.ts'
import { clientCredentialsRow, insertTask, placeholderSigningKey } from '../support/rows.ts'
import { statementsOf } from '../support/statements.ts'

const t = useDatabase()
const base = Date.parse('2026-12-01T10:00:00Z')

const row = (expiresAt: number) => clientCredentialsRow('grouped-lineage', base, expiresAt)

const inserts = (statements: string[]) => statements.filter((s) => s.includes('insert into issued_tokens')).length
const lookups = (statements: string[]) =>
  statements.filter((s) => s.includes('join issued_tokens t on t.jti = q.jti')).length

beforeAll(() => placeholderSigningKey(t.db, 'grouped-lineage'))

describe.runIf(t.isPostgres)('lineage in groups', () => {
  it('writes the rows of concurrent issuances together, each committed before its caller is answered', async () => {
    const rows = Array.from({ length: 10 }, () => row(base + 3_600_000))
    const { statements } = await statementsOf(() =>
      Promise.all(
        rows.map(async (r) => {
          await recordIssuedToken(t.db, r)
          const seen = await sql<{
            n: number
          }>`select count(*)::int as n from issued_tokens where jti = ${r.jti}`.execute(t.db)
          expect(seen.rows[0]?.n).toBe(1)
        }),
      ),
    )
    // Asked in one tick: one sent at once, alone; the nine others together once it is answered.
    expect(inserts(statements)).toBe(2)
  })

  it('answers each lookup of a group with its own row at its own clock', async () => {
    const live = row(base + 3_600_000)
    const revoked = row(base + 3_600_000)
    const expiring = row(base + 60_000)
    await Promise.all([live, revoked, expiring].map((r) => recordIssuedToken(t.db, r)))
    expect(await revokeToken(t.db, revoked.jti, new Date(base + 1_000))).toBe(true)
    const at = (ms: number) => new Date(base + ms)
    const asked = [
      [live.jti, at(0)], // sent alone
      [live.jti, at(0)], // the others wait for it, and leave together
      [live.jti, at(10)],
      [revoked.jti, at(10)],
      [expiring.jti, at(59_000)], // before its expiry
      [expiring.jti, at(61_000)], // after it, in the same statement
      [randomUUID(), at(10)], // unknown
      [live.jti, at(7_200_000)], // the same token, expired at this caller's clock
    ] as const
    const { result, statements } = await statementsOf(() =>
      Promise.all(asked.map(([jti, now]) => findActiveToken(t.db, jti, now).then((found) => found?.jti))),
    )
    expect(result).toEqual([live.jti, live.jti, live.jti, undefined, expiring.jti, undefined, undefined, undefined])
    expect(lookups(statements)).toBe(2)
  })

  it('a lookup asked after a revocation returned never joins a group sent before it', async () => {
    const target = row(base + 3_600_000)
    await recordIssuedToken(t.db, target)
    const now = new Date(base + 5_000)
    // A lookup in flight holds the place and a second waits for it (each may be answered before or
    // after the revocation: both were asked before it). The one asked after the revocation returned
    // joins a group not yet sent, or is sent alone: never answered by a statement sent before it.
    const early = findActiveToken(t.db, target.jti, now)
    const waiting = findActiveToken(t.db, target.jti, now)
    await revokeToken(t.db, target.jti, now)
    const late = findActiveToken(t.db, target.jti, now)
    await Promise.all([early, waiting])
    expect(await late).toBeUndefined()
  })
})

describe.runIf(t.isPostgres)('task reads in groups', () => {
  it('answers each read with its task and its liveness at its own clock', async () => {
    const task = (expiresIn: number, completed = false, parent?: string) =>
      insertTask(t.db, { at: base, expiresIn, completed, ...(parent ? { parent } : {}) })
    const live = await task(600_000)
    const ended = await task(600_000, true)
    const underEnded = await task(600_000, false, ended)
    const short = await task(60_000)
    const at = (ms: number) => new Date(base + ms)
    const asked = [
      [live, at(0)], // sent alone; the others wait for it and leave together
      [live, at(10)],
      [ended, at(10)],
      [underEnded, at(10)], // live itself, ended through its parent
      [short, at(59_000)],
      [short, at(61_000)], // the same task, expired at this caller's clock
      [randomUUID(), at(10)], // unknown
    ] as const
    const { result, statements } = await statementsOf(() =>
      Promise.all(
        asked.map(([taskId, now]) =>
          findTaskWithLiveness(t.db, taskId, now).then((found) => found && { id: found.row.task_id, live: found.live }),
        ),
      ),
    )
    expect(result).toEqual([
      { id: live, live: true },
      { id: live, live: true },
      { id: ended, live: false },
      { id: underEnded, live: false },
      { id: short, live: true },
      { id: short, live: false },
      undefined,
    ])
    expect(statements.filter((s) => s.includes('join tasks t on t.task_id = q.task_id'))).toHaveLength(2)
  })
})
