// `POST /admin/v1/policy-paths:replay` (issue 13): what a candidate policy would have decided differently in
// the decisions made since a time — each decided again from the facts it recorded (decisions.facts), with the
// candidate documents in place of the live ones of the same names and every other path as it is now. Writes
// nothing. Refusals are RFC 9457 problem details, as for a change (policy-change.ts).
import type { Context } from 'koa'
import type { Kysely } from 'kysely'
import type { CatalogSource } from '../catalog/source.ts'
import type { DB } from '../db/schema.ts'
import { bodyParams } from '../http/body-params.ts'
import { withCandidates } from '../simulation/candidates.ts'
import { readCandidates } from './candidates.ts'
import { problem } from './problem.ts'
import { emptyReport, type StoredDecision, tallyDecision } from './replay-report.ts'

export interface PolicyReplayDeps {
  db: Kysely<DB>
  catalog: CatalogSource
  validateDocuments(text: string): Promise<Array<{ severity: string }>>
}

/** At most this many decisions, the newest first: one request's bounded work (the answer says when more were). */
export const MAX_REPLAYED = 10_000
/** Decisions decided again between two turns of the event loop. */
const SLICE = 500
/** At most this many candidate documents in one request. */
const MAX_DOCUMENTS = 100

const USAGE = 'the body is a JSON object: {candidate: a PolicyPath document or a list of them, since: an ISO 8601 time}'

export async function replayPolicyPaths(ctx: Context, deps: PolicyReplayDeps): Promise<void> {
  const { params, problem: malformed } = bodyParams(ctx)
  if (malformed || !ctx.is('application/json')) return problem(ctx, 400, 'Bad request', USAGE)
  const unknown = Object.keys(params).filter((key) => key !== 'candidate' && key !== 'since')
  if (unknown.length > 0) return problem(ctx, 400, 'Bad request', `unknown member ${unknown.join(', ')}`)
  const { candidate, since } = params
  const sinceDate = typeof since === 'string' && /^\d{4}-\d\d-\d\dT/.test(since) ? new Date(since) : undefined
  if (!sinceDate || Number.isNaN(sinceDate.getTime()))
    return problem(ctx, 400, 'Bad request', 'since is required: an ISO 8601 time (2026-12-01T00:00:00Z)')
  const read = await readCandidates(deps.validateDocuments, candidate ?? [], { min: 1, max: MAX_DOCUMENTS })
  if ('problem' in read) {
    const { status, title, detail, findings } = read.problem
    return problem(ctx, status, title, detail, findings)
  }
  const candidates = read.documents
  const names = candidates.map((doc) => doc.metadata.name)

  const live = await deps.catalog.current()
  const rows = await decisionsSince(deps.db, sinceDate)
  const truncated = rows.length > MAX_REPLAYED
  const catalogs = {
    live,
    // The candidates in place of their paths, as the simulation puts them.
    candidate: withCandidates(live, candidates),
  }
  const report = emptyReport()
  for (const [index, row] of rows.slice(0, MAX_REPLAYED).entries()) {
    tallyDecision(report, row, catalogs)
    // Pure work in slices (10,000 decisions take a good part of a second): this process serves the token
    // endpoint too, and its requests are answered between them.
    if (index % SLICE === SLICE - 1) await new Promise((resolve) => setImmediate(resolve))
  }
  ctx.body = { since: sinceDate.toISOString(), candidate: names, truncated, ...report }
}

/** The decisions made since `since`, the newest first, one more than replayed (to tell that more were). */
function decisionsSince(db: Kysely<DB>, since: Date): Promise<StoredDecision[]> {
  return db
    .selectFrom('decisions')
    .select([
      'decision_id',
      'created_at',
      'kind',
      'client_id',
      'subject',
      'resources',
      'action',
      'result',
      'reason',
      'granted_scope',
      'facts',
    ])
    .where('created_at', '>=', since)
    .orderBy('created_at', 'desc')
    .orderBy('decision_id')
    .limit(MAX_REPLAYED + 1)
    .execute()
}
