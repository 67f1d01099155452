// An issuance withheld because its DPoP proof was spent writes nothing at all — not
// even the claim of a namespace that was still free (write.ts: the claims and the token are one statement).
import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { blankDecision } from '../../src/decisions/store.ts'
import { claimProof } from '../../src/dpop/claim.ts'
import { writeIssuance } from '../../src/token-exchange/write.ts'
import { useDatabase } from '../support/database.ts'

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
