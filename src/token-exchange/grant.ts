// RFC 8693 token exchange as an oidc-provider grant: load the facts, decide (one pure function,
// delegation/decide.ts), write. Read top to bottom to see the whole exchange. Every outcome is a
// decision record.
import { randomUUID } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { KoaContextWithOIDC, Provider } from 'oidc-provider'
import type { AuditEvent } from '../audit/write.ts'
import type { DB } from '../db/schema.ts'
import { blankDecision, type DecisionRecord } from '../decisions/store.ts'
import type { VerifiedActor } from '../delegation/actor-token.ts'
import { decideExchange } from '../delegation/decide.ts'
import type { DenialReason } from '../delegation/decision.ts'
import { Denied } from '../delegation/denied.ts'
import type { VerifiedSubject } from '../delegation/subject-token.ts'
import { hasSqlState } from '../db/outage.ts'
import type { Clock } from '../lib/clock.ts'
import { toDate } from '../lib/clock.ts'
import { isUuid } from '../lib/uuid.ts'
import { TOKEN_EXCHANGE } from '../oauth/protocol.ts'
import { asUnavailable, failClosed, TemporarilyUnavailable } from '../oidc/errors.ts'
import { IssuanceWithheld } from '../oidc/issuance.ts'
import { actorsOf } from '../policy/act-claim.ts'
import { toOAuthError } from './denials.ts'
import { type LoadDeps, loadExchange } from './facts.ts'
import { issueExchangedToken } from './issue.ts'
import { type IssuanceOutcome, writeIssuance, writeRefusal } from './write.ts'
import { PARAMETERS, REPEATABLE } from './params.ts'

export interface TokenExchangeDeps extends LoadDeps {
  db: Kysely<DB>
  clock: Clock
  onDecision(record: DecisionRecord): void
  log: { error(fields: object, msg: string): void }
}

export function registerTokenExchange(provider: Provider, deps: TokenExchangeDeps): void {
  provider.registerGrantType(TOKEN_EXCHANGE, exchange(deps), [...PARAMETERS], [...REPEATABLE])
}

function exchange(deps: TokenExchangeDeps) {
  return async function tokenExchange(ctx: KoaContextWithOIDC): Promise<void> {
    const now = deps.clock.now()
    const client = ctx.oidc.client as NonNullable<typeof ctx.oidc.client>
    const record = draft(ctx, client.clientId, now)
    try {
      const { facts, params, targets, subject, actor, task, proof } = await loadExchange(ctx, deps, record, now)
      const decision = decideExchange(facts)
      if (!decision.allow) {
        record.constrained_by = decision.constrainedBy ?? null
        throw new Denied(decision.reason, decision.detail)
      }
      record.actor_chain = actorsOf(decision.act)

      // The lineage row, the decision record and its audit event are one statement (write.ts), written
      // by the jwt customizer before the token is signed: if it cannot be written, no token leaves (503,
      // the client may retry). The same statement spends the DPoP proof (RFC 9449 §11.1: with the token,
      // so a refused exchange spends nothing) and holds the tasks the token depends on (FOR SHARE): a
      // task completing meanwhile either orders this token before the completion (which then counts and
      // revokes it) or after it (withheld). No token of a completed task is ever active.
      Object.assign(record, {
        result: 'allow',
        reason: 'allowed',
        granted_scope: decision.scope,
        constrained_by: decision.constrainedBy,
      })
      const issued = await withheldOnFailure(deps, record, () =>
        issueExchangedToken({
          ctx,
          decision,
          subject,
          targets,
          policy: facts.policy,
          decisionId: record.decision_id,
          requestedTokenType: params.requested_token_type,
          taskId: task?.row?.task_id,
          actorJti: actor?.jti,
          jkt: proof?.jkt,
          now,
          record: async (row) => {
            record.issued_jti = row.jti
            const outcome = await writeIssuance(deps.db, {
              row,
              decision: record,
              audit: auditOf(record, 'token_exchange.issued', now),
              taskPath: decision.dependencies.taskPath,
              proof: proof && { presenter: client.clientId, proof },
              now,
            })
            if (!outcome.issued) throw new IssuanceWithheld(outcome)
          },
        }),
      ).catch((error: unknown) => {
        if (!(error instanceof IssuanceWithheld)) throw error
        // Nothing was written: the record becomes the refusal's (with no constraint: no token was decided on,
        // and no facts: the decision function allowed it, so a replay could not tell why it was refused).
        Object.assign(record, { granted_scope: null, issued_jti: null, constrained_by: null, facts: null })
        const why = error.why as Exclude<IssuanceOutcome, { issued: true }>
        if (why.problem === 'proof_replayed')
          throw new Denied('request.dpop_invalid', 'the DPoP proof was already used')
        throw new Denied(endedReason(why.taskId, subject, actor), `task ${why.taskId} ended during the exchange`)
      })
      deps.onDecision(record)
      // Named only once stored: a 503 or 500 never points at a decision that does not exist.
      ctx.set('X-Decision-Id', record.decision_id)
      ctx.body = issued.body
    } catch (error) {
      // An outage is a 503, a bug a 500: neither is dressed up as a denial (nor recorded as one).
      if (!(error instanceof Denied)) throw asUnavailable(error)
      Object.assign(record, { result: 'deny', reason: error.reason, detail: error.detail ?? null })
      await failClosed(() => writeRefusal(deps.db, record, auditOf(record, 'token_exchange.denied', now)))
      deps.onDecision(record)
      ctx.set('X-Decision-Id', record.decision_id)
      throw toOAuthError(error)
    }
  }
}

/**
 * Runs the issuing transaction. A write the database refuses (any SQLSTATE: a constraint, a trigger, a
 * serialization or deadlock abort) withholds the token as a 503 the client may retry, as the lineage
 * contract says; a bug in our own code stays a 500.
 */
async function withheldOnFailure<T>(
  deps: TokenExchangeDeps,
  record: DecisionRecord,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work()
  } catch (error) {
    if (error instanceof Denied || error instanceof TemporarilyUnavailable || !hasSqlState(error)) throw error
    deps.log.error(
      { err: error, decision_id: record.decision_id, client_id: record.client_id },
      'exchange not recorded; token withheld',
    )
    throw new TemporarilyUnavailable({ cause: error })
  }
}

/** Which input an ended task came from: the subject's tasks, the actor's, or the requested task. */
function endedReason(taskId: string, subject: VerifiedSubject, actor: VerifiedActor | undefined): DenialReason {
  if (subject.row?.task_path.includes(taskId)) return 'subject_token.invalid'
  if (actor?.row.task_path.includes(taskId)) return 'actor_token.invalid'
  return 'task.invalid'
}

const auditOf = (
  record: DecisionRecord,
  type: 'token_exchange.issued' | 'token_exchange.denied',
  now: number,
): AuditEvent => ({
  type,
  at: now,
  actor: record.client_id,
  requestId: record.request_id,
  subject: record.subject,
  taskId: record.task_id && isUuid(record.task_id) ? record.task_id : null,
  jti: record.issued_jti,
  decisionId: record.decision_id,
  data: {
    reason: record.reason,
    policy_path: record.policy_path,
    policy_version: record.policy_version,
    resources: record.resources,
  },
})

function draft(ctx: KoaContextWithOIDC, clientId: string, now: number): DecisionRecord {
  return blankDecision({
    decision_id: randomUUID(),
    created_at: toDate(now),
    request_id: (ctx.state?.reqId as string | undefined) ?? null,
    grant_type: TOKEN_EXCHANGE,
    client_id: clientId,
  })
}
