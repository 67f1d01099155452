// RFC 8693 token exchange as an oidc-provider grant. This file orchestrates; every rule lives in a
// step it calls. Read top to bottom to see the whole exchange. Every outcome is a decision record.
import { randomUUID } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { Client, KoaContextWithOIDC, Provider } from 'oidc-provider'
import { TOKEN_EXCHANGE } from '../oauth/protocol.ts'
import type { DB } from '../db/schema.ts'
import { isUuid } from '../lib/uuid.ts'
import { blankDecision, type DecisionRecord, recordDecision } from '../decisions/store.ts'
import type { Clock } from '../lib/clock.ts'
import { toDate, toEpoch } from '../lib/clock.ts'
import { findEnabledClient } from '../clients/store.ts'
import { hasSqlState } from '../db/outage.ts'
import { type DpopProof, DpopProblem } from '../dpop/proof.ts'
import { type DpopSettings, readDpopProof } from '../dpop/read-proof.ts'
import { claimProof } from '../dpop/claim.ts'
import { scopesOf } from '../oidc/provider.ts'
import type { ResourceRow } from '../resources/store.ts'
import { asUnavailable, failClosed, TemporarilyUnavailable } from '../oidc/errors.ts'
import { actorsOf, ourActorsOf } from '../policy/act-claim.ts'
import type { DenialReason } from '../policy/decision.ts'
import { evaluatePolicy } from '../policy/evaluate.ts'
import { actorsOfTask } from '../tasks/actors.ts'
import { findTask, isTaskLive, lockLiveTasks, type TaskRow } from '../tasks/store.ts'
import { type AuditEvent, writeAudit } from '../audit/write.ts'
import { type VerifiedActor, verifyActor } from './actor-token.ts'
import { dependenciesOf, MAX_LINEAGE, partiesOf } from './dependencies.ts'
import { Denied, toOAuthError } from './denials.ts'
import { issueExchangedToken } from './issue.ts'
import { PARAMETERS, parseParams, REPEATABLE } from './params.ts'
import { type TokenDeps, type VerifiedSubject, verifySubject } from './subject-token.ts'
import { resolvePolicy, resolveTargets } from './targets.ts'

export interface TokenExchangeDeps extends TokenDeps {
  db: Kysely<DB>
  clock: Clock
  dpop: DpopSettings
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
      if (client.clientAuthMethod === 'none') throw new Denied('client.not_confidential')
      const proof = await readProof(ctx, deps, now)
      const params = parseParams(ctx.oidc.params as Record<string, unknown>)
      record.requested_scope = params.scope ?? null
      if (params.task_id) record.task_id = params.task_id

      const targets = await resolveTargets(deps.db, params)
      record.resources = targets.map((t) => t.uri)
      const policy = await resolvePolicy(deps.db, client.clientId, targets)
      Object.assign(record, {
        policy_path: policy.path,
        policy_version: policy.version,
        policy_versions: policy.versions,
      })

      const subject = await verifySubject(params.subject_token, params.subject_token_type, deps)
      Object.assign(record, {
        subject: subject.facts.sub,
        subject_issuer: subject.facts.issuer,
        subject_ref: subject.ref,
      })
      const actor = params.actor ? await verifyActor(params.actor.token, deps) : undefined
      // Who acts: the client, or the actor an intermediary presents (the policy decides whether it may).
      const acting = actor && actor.facts.holder !== client.clientId ? actor.facts.holder : client.clientId
      // The chain as requested (current actor first); replaced by the issued token's own chain below.
      record.actor_chain = [acting, ...actorsOf(subject.facts.act)]

      // A token of a task passes its task on: exchanging it without task_id still works for that task.
      const task = await resolveTask(deps.db, params.task_id ?? subject.taskId, {
        now,
        subject,
        actor: acting,
        targets: targets.map((t) => t.uri),
      })
      if (task) record.task_id = task.task_id
      if (policy.task.required && !task) throw new Denied('request.task_required')

      const decision = evaluatePolicy(policy, {
        now,
        client: client.clientId,
        actorIssuer: deps.issuer,
        subject: subject.facts,
        ...(actor ? { actor: actor.facts } : {}),
        ...(params.scope ? { requestedScope: params.scope } : {}),
        resource: { scopes: commonScopes(targets), accessTokenLifetime: shortestLifetime(targets) },
        ...(task ? { task: { scope: task.scope, expiresAt: toEpoch(task.expires_at) } } : {}),
        clientScopes: scopesOf(client),
        ...(acting !== client.clientId ? { actorScopes: await registeredScopes(deps.db, acting) } : {}),
        ...(proof ? { dpopJkt: proof.jkt } : {}),
        clientRequiresDpop: requiresDpop(client),
      })
      if (!decision.allow) throw new Denied(decision.reason, decision.detail)
      record.actor_chain = actorsOf(decision.act)

      const dependencies = dependenciesOf(subject.row, actor?.row, task)
      // Chains of impersonation or of actor tokens add no act depth; this bounds them instead.
      if (dependencies.size > MAX_LINEAGE)
        throw new Denied('delegation.too_deep', `${dependencies.size} tokens behind it`)
      // The lineage row and the decision record commit together, before the response; if they
      // cannot, no token leaves (503, the client may retry), as for any other issuance.
      const issued = await withheldOnFailure(deps, record, () =>
        deps.db.transaction().execute(async (trx) => {
          // RFC 9449 §11.1: the proof is spent with the token, so a refused exchange spends nothing.
          if (proof && !(await claimProof(trx, client.clientId, proof, now)))
            throw new Denied('request.dpop_invalid', 'the DPoP proof was already used')
          // A task completing while this exchange runs: holding its rows (FOR SHARE) until commit
          // either orders this token before the completion (which then counts and revokes it) or
          // after it (refused here). No token of a completed task is ever active.
          const ended = await lockLiveTasks(trx, dependencies.taskPath, toDate(now))
          if (ended) throw new Denied(endedReason(ended, subject, actor), `task ${ended} ended during the exchange`)
          const result = await issueExchangedToken({
            ctx,
            trx,
            decision,
            subject,
            targets,
            policy,
            decisionId: record.decision_id,
            requestedTokenType: params.requested_token_type,
            taskId: task?.task_id,
            dependencies,
            parties: partiesOf(client.clientId, decision.act, subject.row, actor?.row),
            actorJti: actor?.jti,
            jkt: proof?.jkt,
            now,
          })
          Object.assign(record, {
            result: 'allow',
            reason: 'allowed',
            granted_scope: decision.scope,
            issued_jti: result.jti,
          })
          await recordDecision(trx, record)
          await writeAudit(trx, auditOf(record, 'token_exchange.issued', now))
          return result
        }),
      )
      deps.onDecision(record)
      // Named only once stored: a 503 or 500 never points at a decision that does not exist.
      ctx.set('X-Decision-Id', record.decision_id)
      ctx.body = issued.body
    } catch (error) {
      // An outage is a 503, a bug a 500: neither is dressed up as a denial (nor recorded as one).
      if (!(error instanceof Denied)) throw asUnavailable(error)
      Object.assign(record, { result: 'deny', reason: error.reason, detail: error.detail ?? null })
      await failClosed(() =>
        deps.db.transaction().execute(async (trx) => {
          await recordDecision(trx, record)
          await writeAudit(trx, auditOf(record, 'token_exchange.denied', now))
        }),
      )
      deps.onDecision(record)
      ctx.set('X-Decision-Id', record.decision_id)
      throw toOAuthError(error)
    }
  }
}

/** RFC 9449 §4.3: the request's DPoP proof, checked against the token endpoint's URL from the issuer. */
async function readProof(
  ctx: KoaContextWithOIDC,
  deps: TokenExchangeDeps,
  now: number,
): Promise<DpopProof | undefined> {
  try {
    return await readDpopProof(ctx, { url: `${deps.issuer}/token`, now }, deps.dpop)
  } catch (error) {
    if (!(error instanceof DpopProblem)) throw error
    throw new Denied(error.kind === 'nonce' ? 'request.dpop_nonce' : 'request.dpop_invalid', error.message)
  }
}

/** The scopes every target defines: a token for several resources carries only what each of them knows. */
const commonScopes = (targets: readonly ResourceRow[]): string[] =>
  (targets[0]?.scopes ?? []).filter((scope) => targets.every((target) => target.scopes.includes(scope)))

const shortestLifetime = (targets: readonly ResourceRow[]): number =>
  Math.min(...targets.map((target) => target.access_token_lifetime))

const requiresDpop = (client: Client): boolean =>
  (client as unknown as { dpopBoundAccessTokens?: boolean }).dpopBoundAccessTokens === true

/** The registered scopes of the actor an intermediary presents (none when it is unknown or disabled). */
async function registeredScopes(db: Kysely<DB>, clientId: string): Promise<string[]> {
  return (await findEnabledClient(db, clientId))?.scopes ?? []
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

/** The task an exchange works for: live, the subject's, this client's (or a listed sub-agent's), covering the targets. */
async function resolveTask(
  db: Kysely<DB>,
  taskId: string | undefined,
  request: { now: number; subject: VerifiedSubject; actor: string; targets: string[] },
): Promise<TaskRow | undefined> {
  if (taskId === undefined) return undefined
  const task = await findTask(db, taskId)
  if (!task || !(await isTaskLive(db, task, toDate(request.now))))
    throw new Denied('task.invalid', `task ${taskId} is unknown, completed or expired`)
  const { facts } = request.subject
  if (task.delegator !== facts.sub || task.delegator_issuer !== request.subject.origin)
    throw new Denied('task.invalid', 'the subject is not the task delegator')
  // Another client may work on the task only as a sub-agent: listed as an actor by the task's
  // paths, and working from a token the task's agent delegated (its chain or its task names it).
  if (task.client_id !== request.actor) {
    const delegatedByAgent =
      ourActorsOf(facts.act).includes(task.client_id) || (request.subject.row?.task_path ?? []).includes(task.task_id)
    if (!delegatedByAgent || !(await actorsOfTask(db, task)).includes(request.actor)) {
      throw new Denied('task.invalid', `${request.actor} is neither the task agent nor a sub-agent it delegated to`)
    }
  }
  const outside = request.targets.find((uri) => !task.resources.includes(uri))
  if (outside) throw new Denied('target.not_in_task', outside)
  return task
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
