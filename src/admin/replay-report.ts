// What a candidate policy would change in decisions already made (POST /admin/v1/policy-paths:replay): each
// stored decision decided again from its recorded facts (decisions.facts) by the same decision functions, once
// with the candidate's catalog and once with the live one, and compared with what was decided then. Pure.
import type { Catalog } from '../catalog/catalog.ts'
import { RecordedEvaluation, RecordedExchange } from '../decisions/facts.ts'
import { redecideExchange } from '../decisions/exchange-facts.ts'
import { redecideEvaluation } from '../evaluation/recorded-facts.ts'

/** The columns of a decisions row a replay reads. */
export interface StoredDecision {
  decision_id: string
  created_at: Date
  kind: string
  client_id: string | null
  subject: string | null
  resources: string[]
  action: string | null
  result: string
  reason: string
  granted_scope: string[] | null
  facts: unknown
}

export interface Outcome {
  result: 'allow' | 'deny'
  reason: string
  scope?: string[]
  detail?: string
  /** An allowed evaluation whose rule asks for an approval or counts a rate: those gates decide again. */
  gated?: true
}

/** Why a decision cannot be decided again (a stable code, counted in the report). */
export type NotReplayable = 'no_facts' | 'unreadable_facts' | 'unknown_kind'

type Change = 'unchanged' | 'newly_denied' | 'newly_allowed' | 'scope_changed' | 'reason_changed'

export interface Example {
  decision_id: string
  created_at: string
  kind: string
  client: string | null
  subject: string | null
  resources: string[]
  action?: string
  before: Outcome
  after: Outcome
}

export interface ReplayReport {
  replayed: number
  unchanged: number
  newly_denied: { count: number; examples: Example[] }
  newly_allowed: { count: number; examples: Example[] }
  scope_changed: { count: number; examples: Example[] }
  reason_changed: { count: number; examples: Example[] }
  not_replayable: { count: number; reasons: Partial<Record<NotReplayable, number>> }
  /** Replayed decisions the live policy already decides otherwise than then: the policy changed since. */
  live_differs: { count: number }
}

const MAX_EXAMPLES = 20

/** Evaluation refusals by the approval and rate gates (evaluation/gates.ts): state, not policy. */
const GATE_REASONS = new Set(['approval_required', 'approval_denied', 'rate_exceeded'])

export function emptyReport(): ReplayReport {
  const bucket = () => ({ count: 0, examples: [] as Example[] })
  return {
    replayed: 0,
    unchanged: 0,
    newly_denied: bucket(),
    newly_allowed: bucket(),
    scope_changed: bucket(),
    reason_changed: bucket(),
    not_replayable: { count: 0, reasons: {} },
    live_differs: { count: 0 },
  }
}

/** One stored decision decided again with the candidate (and the live policy), counted into the report. */
export function tallyDecision(
  report: ReplayReport,
  row: StoredDecision,
  catalogs: { candidate: Catalog; live: Catalog },
): void {
  const facts = readFacts(row)
  if (typeof facts === 'string') {
    report.not_replayable.count += 1
    report.not_replayable.reasons[facts] = (report.not_replayable.reasons[facts] ?? 0) + 1
    return
  }
  report.replayed += 1
  const before = storedOutcome(row)
  if (compare(row.kind, before, redecide(facts, catalogs.live)) !== 'unchanged') report.live_differs.count += 1
  const after = redecide(facts, catalogs.candidate)
  const change = compare(row.kind, before, after)
  if (change === 'unchanged') {
    report.unchanged += 1
    return
  }
  const into = report[change]
  into.count += 1
  if (into.examples.length < MAX_EXAMPLES) into.examples.push(exampleOf(row, before, after))
}

type Facts = { kind: 'issuance'; facts: RecordedExchange } | { kind: 'evaluation'; facts: RecordedEvaluation }

/** The facts a decision recorded, or why it cannot be decided again. */
function readFacts(row: StoredDecision): Facts | NotReplayable {
  if (row.facts === null || row.facts === undefined) return 'no_facts'
  if (row.kind === 'issuance') {
    const parsed = RecordedExchange.safeParse(row.facts)
    return parsed.success ? { kind: 'issuance', facts: parsed.data } : 'unreadable_facts'
  }
  if (row.kind === 'evaluation') {
    const parsed = RecordedEvaluation.safeParse(row.facts)
    return parsed.success ? { kind: 'evaluation', facts: parsed.data } : 'unreadable_facts'
  }
  return 'unknown_kind'
}

/** The decision made again from its facts with the catalog's policy. */
function redecide(read: Facts, catalog: Catalog): Outcome {
  if (read.kind === 'issuance') return exchangeOutcome(read.facts, catalog)
  const decision = redecideEvaluation(read.facts, catalog)
  if (!decision.allow) return { result: 'deny', reason: decision.reason, detail: decision.detail }
  const gated = decision.requirement && (decision.requirement.approval || decision.requirement.rates.length > 0)
  return { result: 'allow', reason: 'allowed', ...(gated ? { gated: true as const } : {}) }
}

function exchangeOutcome(facts: RecordedExchange, catalog: Catalog): Outcome {
  const decision = redecideExchange(facts, catalog)
  if (decision.allow) return { result: 'allow', reason: 'allowed', scope: decision.scope }
  return { result: 'deny', reason: decision.reason, ...(decision.detail ? { detail: decision.detail } : {}) }
}

const storedOutcome = (row: StoredDecision): Outcome => ({
  result: row.result === 'allow' ? 'allow' : 'deny',
  reason: row.reason,
  ...(row.kind === 'issuance' && row.granted_scope ? { scope: row.granted_scope } : {}),
})

function compare(kind: string, before: Outcome, after: Outcome): Change {
  if (before.result === 'allow' && after.result === 'deny') return 'newly_denied'
  if (before.result === 'allow')
    return kind === 'issuance' && !sameSet(before.scope, after.scope) ? 'scope_changed' : 'unchanged'
  if (after.result === 'allow') {
    // Refused then by a gate, and still behind one: the gate decides again, as it did.
    return GATE_REASONS.has(before.reason) && after.gated ? 'unchanged' : 'newly_allowed'
  }
  return before.reason === after.reason ? 'unchanged' : 'reason_changed'
}

const sameSet = (a: readonly string[] = [], b: readonly string[] = []) =>
  a.length === b.length && a.every((item) => b.includes(item))

const exampleOf = (row: StoredDecision, before: Outcome, after: Outcome): Example => ({
  decision_id: row.decision_id,
  created_at: row.created_at.toISOString(),
  kind: row.kind,
  client: row.client_id,
  subject: row.subject,
  resources: row.resources,
  ...(row.action !== null ? { action: row.action } : {}),
  before,
  after,
})
