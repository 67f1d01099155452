// decisions rows: one per token exchange and one per evaluation of an action, allowed or denied. Written,
// never updated (token-exchange/write.ts and evaluation/record.ts write each with what must commit with it).
import type { Selectable } from 'kysely'
import type { DecisionsTable } from '../db/schema.ts'
import type { Constraint } from '../delegation/decision.ts'
import type { RecordedFacts } from './facts.ts'

/** A decisions row, with its result narrowed and its JSON columns (policy_versions, constrained_by, facts) as values. */
export type DecisionRecord = Omit<
  Selectable<DecisionsTable>,
  'result' | 'policy_versions' | 'constrained_by' | 'facts'
> & {
  result: 'allow' | 'deny'
  policy_versions: Record<string, number> | null
  /** What narrowed the outcome (delegation/decision.ts Constraint); null when no decision was reached. */
  constrained_by: Constraint[] | null
  /** What it was decided on besides the policy (facts.ts); null when the decision function did not decide it. */
  facts: RecordedFacts | null
}

/** A deny record with nothing known yet; each step of an exchange or evaluation fills in what it learns. */
export function blankDecision(
  fields: Pick<DecisionRecord, 'decision_id' | 'created_at' | 'request_id' | 'grant_type' | 'client_id'> &
    Partial<Pick<DecisionRecord, 'kind'>>,
): DecisionRecord {
  return {
    kind: 'issuance',
    action: null,
    object_id: null,
    caller_id: null,
    approval_id: null,
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
    facts: null,
  }
}
