// One evaluation, top to bottom: verify the token, read it (active now, with its task), find the policy bound
// now, decide, pass the stateful gates (approval, rate), and record the decision before answering. The token's
// activity is read after the request arrived, so a completion or revocation that returned before is seen.
import { randomUUID } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { Catalog } from '../catalog/catalog.ts'
import type { DB } from '../db/schema.ts'
import { blankDecision, type DecisionRecord } from '../decisions/store.ts'
import { type OurAccessToken, type VerifyDeps, verifyAccessToken } from '../keys/verify-access-token.ts'
import type { KeyRing } from '../keys/ring.ts'
import { toDate } from '../lib/clock.ts'
import { type ActClaim, actorsOf, identityOnly } from '../policy/act-claim.ts'
import type { ActionRequirement } from '../policy/action-requirement.ts'
import type { ResourceRow } from '../resources/store.ts'
import { decideEvaluation, type EvaluationDecision, type EvaluationFacts } from './decide.ts'
import { type GateDeps, passGates } from './gates.ts'
import { evaluationPolicy, recordEvaluation } from './recorded-facts.ts'
import type { DenyReason } from './reasons.ts'
import type { KnownTokens } from './known-tokens.ts'
import { type EvaluatedToken, findEvaluatedToken, recordIfActive, writeEvaluationRecord } from './store.ts'

export interface EvaluationInput {
  token: string
  resource: ResourceRow
  /** AuthZEN resource.id: the object acted on ('' when none was named). */
  objectId: string
  action: string
  caller: string
  requestId: string | null
}

export interface EvaluationAnswer {
  decision: boolean
  decisionId: string
  reason?: DenyReason
  cacheMaxAge?: number
  approvalId?: string
}

export interface EvaluationDeps extends Omit<VerifyDeps, 'ring'>, Omit<GateDeps, 'ring'> {
  db: Kysely<DB>
  ring: Pick<KeyRing, 'verificationKey' | 'signingKey'>
  /** After a transaction that may have queued an approval webhook committed: deliver it now (never awaited). */
  afterApprovalRequested(): void
  /** The immutable facts of tokens evaluated before, in this process. */
  knownTokens: KnownTokens
}

export async function evaluate(
  input: EvaluationInput,
  catalog: Catalog,
  deps: EvaluationDeps,
): Promise<EvaluationAnswer> {
  const now = deps.clock.now()
  const claims = await verifyAccessToken(input.token, deps)
  const audiences = claims ? (Array.isArray(claims.aud) ? claims.aud : [claims.aud]) : []
  const forResource = claims !== undefined && audiences.includes(input.resource.uri)
  const known = forResource ? deps.knownTokens.get(claims.jti) : undefined
  if (known) {
    const answer = await evaluateKnown(input, claims as OurAccessToken, known, catalog, { ...deps, now })
    if (answer) return answer
  }
  const found = forResource ? await findEvaluatedToken(deps.db, (claims as OurAccessToken).jti, toDate(now)) : undefined
  if (found) deps.knownTokens.remember(found)
  const facts = factsOf(input, found, catalog, now)
  const decisionId = randomUUID()
  let decision: EvaluationDecision = decideEvaluation(facts)
  let approvalId: string | undefined
  const record = () => recordOf(input, claims, found, facts, decision, { decisionId, now, approvalId })
  const requirement = decision.allow ? decision.requirement : undefined
  if (found && requirement && gated(requirement)) {
    const context = {
      requirement,
      token: found,
      resource: input.resource.uri,
      objectId: input.objectId,
      action: input.action,
      decisionId,
      now,
      approvalWebhook: catalog.client(found.row.client_id)?.approval_webhook ?? null,
    }
    await deps.db.transaction().execute(async (trx) => {
      const gate = await passGates(trx, context, deps)
      approvalId = gate.approvalId
      if (!gate.pass) decision = { allow: false, reason: gate.reason, detail: gate.detail }
      await writeEvaluationRecord(trx, record())
    })
    if (approvalId && !decision.allow) deps.afterApprovalRequested()
  } else {
    await writeEvaluationRecord(deps.db, record())
  }
  return answerOf(decision, decisionId, approvalId)
}

const gated = (requirement: ActionRequirement) => requirement.approval || requirement.rates.length > 0

/**
 * A token seen before: decided on its known facts as if active, then one statement reads its activity and
 * records either that decision or token_inactive. undefined when the action is gated (approval, rate): the
 * gates read and write state of their own, in a transaction (the path of a token seen for the first time).
 */
async function evaluateKnown(
  input: EvaluationInput,
  claims: OurAccessToken,
  known: EvaluatedToken,
  catalog: Catalog,
  deps: EvaluationDeps & { now: number },
): Promise<EvaluationAnswer | undefined> {
  const { now } = deps
  const facts = factsOf(input, known, catalog, now)
  const decision = decideEvaluation(facts)
  if (decision.allow && decision.requirement && gated(decision.requirement)) return undefined
  const decisionId = randomUUID()
  const ids = { decisionId, now, approvalId: undefined }
  const inactiveFacts = factsOf(input, undefined, catalog, now)
  const inactive = decideEvaluation(inactiveFacts)
  const active = await recordIfActive(deps.db, {
    jti: claims.jti,
    now: toDate(now),
    ifActive: recordOf(input, claims, known, facts, decision, ids),
    ifInactive: recordOf(input, claims, undefined, inactiveFacts, inactive, ids),
  })
  return answerOf(active ? decision : inactive, decisionId, undefined)
}

const answerOf = (
  decision: EvaluationDecision,
  decisionId: string,
  approvalId: string | undefined,
): EvaluationAnswer => ({
  decision: decision.allow,
  decisionId,
  ...(decision.allow ? {} : { reason: decision.reason }),
  ...(decision.allow && decision.cacheMaxAge ? { cacheMaxAge: decision.cacheMaxAge } : {}),
  ...(approvalId && !decision.allow ? { approvalId } : {}),
})

function factsOf(
  input: EvaluationInput,
  found: EvaluatedToken | undefined,
  catalog: Catalog,
  now: number,
): EvaluationFacts {
  if (!found) return { now, action: input.action, policy: 'unbound' }
  const { row, task, intents } = found
  const policy = evaluationPolicy(catalog, row.client_id, input.resource.uri, row.grant_type)
  return {
    now,
    action: input.action,
    policy,
    token: {
      holder: row.client_id,
      scope: row.scope,
      act: identityOnly(row.act) as ActClaim | undefined,
      expiresAt: Math.floor(row.expires_at.getTime() / 1000),
      task:
        row.task_id && task ? { id: row.task_id, expiresAt: Math.floor(task.expires_at.getTime() / 1000) } : undefined,
      intents,
    },
  }
}

function recordOf(
  input: EvaluationInput,
  claims: OurAccessToken | undefined,
  found: EvaluatedToken | undefined,
  facts: EvaluationFacts,
  decision: EvaluationDecision,
  ids: { decisionId: string; now: number; approvalId: string | undefined },
): DecisionRecord {
  const row = found?.row
  const policy = typeof facts.policy === 'object' ? facts.policy : undefined
  return {
    ...blankDecision({
      decision_id: ids.decisionId,
      created_at: toDate(ids.now),
      request_id: input.requestId,
      grant_type: null,
      client_id: row?.client_id ?? null,
      kind: 'evaluation',
    }),
    // A token that did not verify names nobody: only a verified token's jti is kept.
    subject: row?.sub ?? null,
    subject_issuer: row?.subject_issuer ?? null,
    subject_ref: row?.jti ?? claims?.jti ?? null,
    actor_chain: facts.token ? actorsOf(facts.token.act) : [],
    resources: [input.resource.uri],
    granted_scope: row?.scope ?? null,
    policy_path: policy?.path ?? null,
    policy_version: policy?.version ?? null,
    policy_versions: policy?.versions ?? null,
    task_id: row?.task_id ?? null,
    result: decision.allow ? 'allow' : 'deny',
    reason: decision.allow ? 'allowed' : decision.reason,
    detail: decision.allow ? matchedRules(decision) : decision.detail,
    action: input.action,
    object_id: input.objectId,
    caller_id: input.caller,
    approval_id: ids.approvalId ?? null,
    // What it was decided on besides the policy, for a replay (decisions/facts.ts).
    facts: recordEvaluation(facts, input.resource.uri, row?.grant_type),
  }
}

const matchedRules = (decision: Extract<EvaluationDecision, { allow: true }>): string | null =>
  decision.requirement ? decision.requirement.matched.map((m) => `${m.path}: ${m.rule}`).join('; ') : null
