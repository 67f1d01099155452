// POST /access/v1/evaluation and /access/v1/evaluations (OpenID AuthZEN Authorization API 1.0 §6, §7): the
// caller, a client, asks whether an agent's token may take an action on an object of a resource it serves.
// It may ask only about resources it is an introspector of (RFC 7662 §4's rule, as at introspection).
import type { Context } from 'koa'
import type { Catalog } from '../catalog/catalog.ts'
import { ADMIN_SCOPE } from '../clients/schema.ts'
import type { ClientRow } from '../clients/store.ts'
import { type EvaluationAnswer, type EvaluationDeps, evaluate } from '../evaluation/evaluate.ts'
import { DENY_REASONS } from '../evaluation/reasons.ts'
import { HttpError } from '../http/http-error.ts'
import type { ResourceRow } from '../resources/store.ts'
import {
  type Evaluation,
  EvaluationRequest,
  EvaluationsRequest,
  expandEvaluations,
  problemOf,
  type Semantic,
} from './request.ts'

export interface AnswerContext {
  decision_id: string
  reason?: string
  reason_user?: { en: string }
  approval_id?: string
  cache_max_age?: number
}
export interface Answer {
  decision: boolean
  context: AnswerContext
}

export async function handleEvaluations(
  ctx: Context,
  caller: ClientRow,
  params: Record<string, unknown>,
  batch: boolean,
  deps: EvaluationDeps & { catalog: { current(): Promise<Catalog> } },
): Promise<void> {
  const parsed = (batch ? EvaluationsRequest : EvaluationRequest).safeParse(params)
  if (!parsed.success) throw new HttpError('invalid_request', problemOf(parsed.error))
  const expanded = batch
    ? expandEvaluations(parsed.data as EvaluationsRequest)
    : { evaluations: [parsed.data as Evaluation] }
  if ('problem' in expanded) throw new HttpError('invalid_request', expanded.problem)
  const catalog = await deps.catalog.current()
  // Every resource is checked before anything is evaluated: a refused request records nothing.
  const resources = expanded.evaluations.map((evaluation) => askable(catalog, caller, evaluation.resource.type))
  const run = (evaluation: Evaluation, index: number) =>
    evaluate(
      {
        token: evaluation.subject.id,
        resource: resources[index] as ResourceRow,
        objectId: evaluation.resource.id,
        action: evaluation.action.name,
        caller: caller.client_id,
        requestId: (ctx.state.reqId as string | undefined) ?? null,
      },
      catalog,
      deps,
    )
  const semantic: Semantic =
    (batch && (parsed.data as EvaluationsRequest).options?.evaluations_semantic) || 'execute_all'
  const answers = await runAll(expanded.evaluations, run, semantic)
  ctx.set('X-Decision-Id', answers.map((a) => a.decisionId).join(', '))
  const bodies = answers.map(present)
  const single = !batch || !(parsed.data as EvaluationsRequest).evaluations?.length
  ctx.body = single ? bodies[0] : { evaluations: bodies }
}

/** The Resource a type names (its URI or its name), if the caller may ask about it; else 403, naming nothing. */
function askable(catalog: Catalog, caller: ClientRow, type: string): ResourceRow {
  const resource = catalog.resourceByUri(type) ?? catalog.resourceByName(type)
  if (resource && (resource.introspectors.includes(caller.client_id) || caller.scopes.includes(ADMIN_SCOPE)))
    return resource
  throw new HttpError('evaluation_forbidden')
}

/**
 * AuthZEN §7.1.2: execute_all answers every evaluation (run together, so they share statements);
 * deny_on_first_deny and permit_on_first_permit run in order and stop after the first deny or permit.
 */
async function runAll(
  evaluations: readonly Evaluation[],
  run: (evaluation: Evaluation, index: number) => Promise<EvaluationAnswer>,
  semantic: Semantic,
): Promise<EvaluationAnswer[]> {
  if (semantic === 'execute_all') {
    // Every evaluation ends before the answer leaves, even when one failed (an outage: 503): none is decided,
    // recorded or spends an approval or a rate after the caller was told the batch failed.
    const answers: EvaluationAnswer[] = []
    for (const result of await Promise.allSettled(evaluations.map(run))) {
      if (result.status === 'rejected') throw result.reason
      answers.push(result.value)
    }
    return answers
  }
  const answers: EvaluationAnswer[] = []
  for (const [index, evaluation] of evaluations.entries()) {
    const answer = await run(evaluation, index)
    answers.push(answer)
    if (answer.decision === (semantic === 'permit_on_first_permit')) break
  }
  return answers
}

function present(answer: EvaluationAnswer): Answer {
  const context: AnswerContext = { decision_id: answer.decisionId }
  if (answer.reason) Object.assign(context, { reason: answer.reason, reason_user: { en: DENY_REASONS[answer.reason] } })
  if (answer.approvalId) context.approval_id = answer.approvalId
  if (answer.cacheMaxAge) context.cache_max_age = answer.cacheMaxAge
  return { decision: answer.decision, context }
}
