// Hand-made rows for the tests of the statements themselves (group commit, the exchange's write), where
// going through the HTTP endpoints would hide which statement did what. One shape for each, used by all.
import { randomUUID } from 'node:crypto'
import { type Kysely, sql } from 'kysely'
import type { DB } from '../../src/db/schema.ts'
import { blankDecision } from '../../src/decisions/store.ts'
import type { IssuedTokenWrite } from '../../src/lineage/tokens.ts'
import type { IssuanceWrite } from '../../src/token-exchange/write.ts'

/** Lineage rows name the key that signed them: a key row for hand-made rows (never opened). */
export async function placeholderSigningKey(db: Kysely<DB>, kid: string): Promise<void> {
  await sql`insert into signing_keys (kid, alg, public_jwk, private_jwk_sealed, activates_at)
    values (${kid}, 'ES256', '{}', 'never opened', now())`.execute(db)
}

/**
 * A task of agent-one for alice created at `at` (ms), living `expiresIn` ms, completed at its creation when
 * `completed`; under `parent` when given (its task_path then starts with the parent's id).
 */
export async function insertTask(
  db: Kysely<DB>,
  options: { at: number; expiresIn?: number; completed?: boolean; parent?: string; taskId?: string },
): Promise<string> {
  const taskId = options.taskId ?? randomUUID()
  const { at, expiresIn = 600_000, completed = false, parent } = options
  await sql`insert into tasks (task_id, client_id, delegator, delegator_issuer, purpose, resources, scope,
      policy_paths, parent_task_id, task_path, created_at, expires_at, completed_at, outcome)
    values (${taskId}, 'agent-one', 'alice', 'https://idp.test', 'a hand-made task', '{https://tickets.test/}',
      '{tickets:read}', '{acme/tickets}', ${parent ?? null}, ${[...(parent ? [parent] : []), taskId]}::uuid[],
      ${new Date(at)}, ${new Date(at + expiresIn)}, ${completed ? new Date(at) : null},
      ${completed ? 'cancelled' : null})`.execute(db)
  return taskId
}

/** A lineage row of a client_credentials token of agent-one, issued at `issuedAt` (ms). */
export const clientCredentialsRow = (kid: string, issuedAt: number, expiresAt: number): IssuedTokenWrite => ({
  jti: randomUUID(),
  kid,
  grant_type: 'client_credentials',
  client_id: 'agent-one',
  sub: 'agent-one',
  aud: ['https://tickets.test/'],
  scope: ['tickets:read'],
  issued_at: new Date(issuedAt),
  expires_at: new Date(expiresAt),
  parent_jti: null,
  ancestors: [],
  claims: { client_id: 'agent-one' },
})

/**
 * An allowed exchange's write, as the grant hands it over: a token of agent-one for alice at `now`
 * (seconds), signed by `kid`, depending on `taskPath`, with a DPoP proof to spend when given.
 */
export function issuanceWrite(
  kid: string,
  now: number,
  extra: Partial<Pick<IssuanceWrite, 'taskPath' | 'proof'>> = {},
): IssuanceWrite {
  const decision = blankDecision({
    decision_id: randomUUID(),
    created_at: new Date(now * 1000),
    request_id: null,
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    client_id: 'agent-one',
  })
  const jti = randomUUID()
  const taskPath = extra.taskPath ?? []
  return {
    row: {
      jti,
      kid,
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      client_id: 'agent-one',
      sub: 'alice',
      aud: ['https://tickets.test/'],
      scope: ['tickets:read'],
      issued_at: new Date(now * 1000),
      expires_at: new Date((now + 60) * 1000),
      parent_jti: null,
      ancestors: [],
      claims: {},
      task_path: [...taskPath],
    },
    decision: { ...decision, result: 'allow', reason: 'allowed', issued_jti: jti },
    audit: { type: 'token_exchange.issued', at: now, actor: 'agent-one', requestId: null, jti },
    taskPath,
    proof: extra.proof,
    now,
  }
}
