// What an exchange writes (token-exchange/write.ts), each issuance all or nothing on its own: one
// withheld because its DPoP proof was spent writes nothing at all — not even the claim of a namespace
// that was still free — alone or in a group of concurrent issuances written by one statement.
import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import { beforeAll, describe, expect, it } from 'vitest'
import { blankDecision } from '../../src/decisions/store.ts'
import { claimProof } from '../../src/dpop/claim.ts'
import { writeIssuance } from '../../src/token-exchange/write.ts'
import { useDatabase } from '../support/database.ts'
import { insertTask, issuanceWrite, placeholderSigningKey } from '../support/rows.ts'
import { statementsOf } from '../support/statements.ts'

const t = useDatabase()

describe('writeIssuance with a proof spent in one namespace', () => {
  it('withholds the token and claims nothing', async () => {
    const now = Math.floor(Date.now() / 1000)
    const proof = { jkt: `jkt-${randomUUID()}`, jti: randomUUID(), iat: now }
    // The same proof (same key, same jti) already spent by another presenter: the jkt namespace holds it.
    expect(await claimProof(t.db, 'agent-two', proof, now)).toBe(true)
    const count = async () =>
      Number(
        (
          await sql<{ n: string }>`select count(*) as n from oidc_payloads where model = 'ReplayDetection'`.execute(
            t.db,
          )
        ).rows[0]?.n,
      )
    const before = await count()
    const decisionId = randomUUID()
    const decision = blankDecision({
      decision_id: decisionId,
      created_at: new Date(now * 1000),
      request_id: null,
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      client_id: 'agent-one',
    })
    const outcome = await writeIssuance(t.db, {
      row: {
        jti: randomUUID(),
        kid: 'none',
        grant_type: decision.grant_type,
        client_id: 'agent-one',
        sub: 'alice',
        aud: ['https://tickets.test/'],
        scope: [],
        issued_at: new Date(now * 1000),
        expires_at: new Date((now + 60) * 1000),
        parent_jti: null,
        ancestors: [],
        claims: {},
      } as never,
      decision: { ...decision, result: 'allow', reason: 'allowed' },
      audit: { type: 'token_exchange.issued', at: now, actor: 'agent-one', requestId: null },
      taskPath: [],
      proof: { presenter: 'agent-one', proof },
      now,
    })
    expect(outcome).toEqual({ issued: false, problem: 'proof_replayed' })
    expect(await count()).toBe(before)
  })
})

const issuance = (now: number, extra?: Parameters<typeof issuanceWrite>[2]) =>
  issuanceWrite('grouped-writes', now, extra)

const written = async (jtis: string[]) => {
  const [tokens, decisions, audits] = await Promise.all([
    sql<{ jti: string }>`select jti from issued_tokens where jti = any(${jtis})`.execute(t.db),
    sql<{ jti: string }>`select issued_jti as jti from decisions where issued_jti = any(${jtis})`.execute(t.db),
    sql<{ jti: string }>`select jti from audit_events where jti = any(${jtis})`.execute(t.db),
  ])
  return [tokens, decisions, audits].map(({ rows }) => rows.map((row) => row.jti).sort())
}

// Statements are counted at the pg client (test/support/statements.ts): Postgres only.
describe.runIf(t.isPostgres)('concurrent issuances written by one statement', () => {
  beforeAll(() => placeholderSigningKey(t.db, 'grouped-writes'))

  it('decide each on its own: a spent proof, two claims of one proof and an ended task withhold only their own token', async () => {
    const now = Math.floor(Date.now() / 1000)
    const live = await insertTask(t.db, { at: now * 1000 })
    const ended = await insertTask(t.db, { at: now * 1000, completed: true })
    const spentProof = { jkt: `jkt-${randomUUID()}`, jti: randomUUID(), iat: now }
    expect(await claimProof(t.db, 'agent-two', spentProof, now)).toBe(true)
    const sharedProof = { jkt: `jkt-${randomUUID()}`, jti: randomUUID(), iat: now }
    const inputs = {
      first: issuance(now),
      plain: issuance(now),
      spent: issuance(now, { proof: { presenter: 'agent-one', proof: spentProof } }),
      sharedOne: issuance(now, { proof: { presenter: 'agent-one', proof: sharedProof } }),
      sharedTwo: issuance(now, { proof: { presenter: 'agent-one', proof: sharedProof } }),
      forEnded: issuance(now, { taskPath: [live, ended] }),
      forLive: issuance(now, { taskPath: [live] }),
      proven: issuance(now, {
        proof: { presenter: 'agent-one', proof: { jkt: `jkt-${randomUUID()}`, jti: randomUUID(), iat: now } },
      }),
    }
    const names = Object.keys(inputs) as (keyof typeof inputs)[]
    // Asked in one tick. The two with no task and no proof group apart (write.ts): the first is sent at
    // once, the second after it. Of the six others, the first (spent) is sent at once, alone; the five
    // others wait for it and leave together.
    const { result: outcomes, statements } = await statementsOf(() =>
      Promise.all(names.map((name) => writeIssuance(t.db, inputs[name]))),
    )
    const byName = Object.fromEntries(names.map((name, i) => [name, outcomes[i]]))
    expect(byName).toMatchObject({
      first: { issued: true },
      plain: { issued: true },
      spent: { issued: false, problem: 'proof_replayed' },
      forEnded: { issued: false, problem: 'task_ended', taskId: ended },
      forLive: { issued: true },
      proven: { issued: true },
    })
    // The two claims of one proof could not share a statement: each was sent again alone, and one won.
    expect([byName.sharedOne, byName.sharedTwo]).toEqual(
      expect.arrayContaining([{ issued: true }, { issued: false, problem: 'proof_replayed' }]),
    )
    const writes = statements.filter((text) => text.includes('insert into issued_tokens'))
    // The plain two; spent alone; the group of five; then each of the five alone.
    expect(writes).toHaveLength(2 + 1 + 1 + 5)
    const issued = names.filter((name) => byName[name]?.issued).map((name) => inputs[name].row.jti)
    expect(issued).toHaveLength(5)
    const all = names.map((name) => inputs[name].row.jti)
    expect(await written(all)).toEqual([issued.sort(), issued.sort(), issued.sort()])
  })

  it('share one statement when nothing conflicts, and commit every row before any caller is answered', async () => {
    const now = Math.floor(Date.now() / 1000)
    const inputs = Array.from({ length: 12 }, () => issuance(now))
    const { result: outcomes, statements } = await statementsOf(() =>
      Promise.all(
        inputs.map(async (input) => {
          const outcome = await writeIssuance(t.db, input)
          // Answered: its row, decision and audit event are committed (seen from another connection).
          expect(await written([input.row.jti])).toEqual([[input.row.jti], [input.row.jti], [input.row.jti]])
          return outcome
        }),
      ),
    )
    expect(outcomes.every((outcome) => outcome.issued)).toBe(true)
    expect(statements.filter((text) => text.includes('insert into issued_tokens'))).toHaveLength(2)
  })
})
