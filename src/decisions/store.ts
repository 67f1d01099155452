// decisions rows: one per token exchange, allowed or denied. Written, never updated.
import type { Insertable, Kysely } from 'kysely'
import type { DB, DecisionsTable } from '../db/schema.ts'
import type { Constraint } from '../delegation/decision.ts'

export interface DecisionRecord {
  decision_id: string
  created_at: Date
  request_id: string | null
  grant_type: string
  client_id: string | null
  subject: string | null
  subject_issuer: string | null
  subject_ref: string | null
  actor_chain: string[]
  resources: string[]
  requested_scope: string[] | null
  granted_scope: string[] | null
  policy_path: string | null
  policy_version: number | null
  policy_versions: Record<string, number> | null
  task_id: string | null
  result: 'allow' | 'deny'
  reason: string
  detail: string | null
  issued_jti: string | null
  /** What narrowed the outcome (delegation/decision.ts Constraint); null when no decision was reached. */
  constrained_by: Constraint[] | null
}

/** A deny record with nothing known yet; each step of an exchange fills in what it learns. */
export function blankDecision(fields: {
  decision_id: string
  created_at: Date
  request_id: string | null
  grant_type: string
  client_id: string | null
}): DecisionRecord {
  return {
    ...fields,
    subject: null,
    subject_issuer: null,
    subject_ref: null,
    actor_chain: [],
    resources: [],
    requested_scope: null,
    granted_scope: null,
    policy_path: null,
    policy_version: null,
    policy_versions: null,
    task_id: null,
    result: 'deny',
    reason: 'request.malformed',
    detail: null,
    issued_jti: null,
    constrained_by: null,
  }
}

export async function recordDecision(db: Kysely<DB>, record: DecisionRecord): Promise<void> {
  const row: Insertable<DecisionsTable> = {
    ...record,
    policy_versions: record.policy_versions === null ? null : JSON.stringify(record.policy_versions),
    constrained_by: record.constrained_by === null ? null : JSON.stringify(record.constrained_by),
  }
  await db.insertInto('decisions').values(row).execute()
}
