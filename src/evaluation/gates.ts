// The stateful requirements of an allowed action, in one transaction with the decision record: the person's
// approval (requested, refused, or used once) and the rule's rates (all taken, or none). Only actions whose
// rule asks for them pay for this transaction; every other evaluation writes its record in a shared statement.
import { randomUUID } from 'node:crypto'
import { type Kysely, sql } from 'kysely'
import { enqueueApprovalRequested, type ApprovalWebhookDeps } from '../approvals/webhook.ts'
import {
  type ApprovalKey,
  type ApprovalRow,
  insertApproval,
  latestApproval,
  MAX_PENDING_APPROVALS,
  pendingCount,
  useApproval,
} from '../approvals/store.ts'
import type { DB } from '../db/schema.ts'
import { toDate } from '../lib/clock.ts'
import type { ActionRequirement } from '../policy/action-requirement.ts'
import { actorsOf, type ActClaim, identityOnly } from '../policy/act-claim.ts'
import { SELF_ISSUER } from '../policy/schema.ts'
import { type RateUse, takeRates } from './rates.ts'
import type { DenyReason } from './reasons.ts'
import type { EvaluatedToken } from './store.ts'

export interface GateDeps extends ApprovalWebhookDeps {
  /** Seconds a requested approval waits for the person, then may be used (config approvalLifetime). */
  approvalLifetime: number
}

export interface GateContext {
  requirement: ActionRequirement
  token: EvaluatedToken
  resource: string
  objectId: string
  action: string
  decisionId: string
  now: number
  /** The token holder's Client.approvalWebhook, if it has one. */
  approvalWebhook: string | null
}

export type GateResult =
  | { pass: true; approvalId?: string }
  | { pass: false; reason: DenyReason; detail: string; approvalId?: string }

/** Within `trx`; the caller writes the decision record in the same transaction and commits. */
export async function passGates(trx: Kysely<DB>, ctx: GateContext, deps: GateDeps): Promise<GateResult> {
  const now = toDate(ctx.now)
  let approved: ApprovalRow | undefined
  if (ctx.requirement.approval) {
    const key = approvalKey(ctx)
    const latest = await latestApproval(trx, key, now)
    if (latest?.status === 'denied')
      return {
        pass: false,
        reason: 'approval_denied',
        detail: `refused by ${latest.decided_by}`,
        approvalId: latest.approval_id,
      }
    if (latest?.status === 'pending')
      return { pass: false, reason: 'approval_required', detail: 'awaiting the person', approvalId: latest.approval_id }
    if (latest?.status !== 'approved') {
      // Asking is bounded: an agent cannot flood the person (and the webhook) with requests.
      if ((await pendingCount(trx, key, now)) >= MAX_PENDING_APPROVALS)
        return { pass: false, reason: 'rate_exceeded', detail: `${MAX_PENDING_APPROVALS} approvals already pending` }
      const requested = await requestApproval(trx, key, ctx, deps)
      return { pass: false, reason: 'approval_required', detail: 'approval requested', approvalId: requested }
    }
    approved = latest
  }
  if (ctx.requirement.rates.length > 0) {
    // All of the rule's rates or none: a refused rate gives back what the others took.
    await sql`savepoint rates`.execute(trx)
    if (!(await takeRates(trx, rateUses(ctx), now))) {
      await sql`rollback to savepoint rates`.execute(trx)
      const limits = ctx.requirement.rates.map((r) => `${r.max} per ${r.per}s (${r.path}: ${r.rule})`).join(', ')
      return {
        pass: false,
        reason: 'rate_exceeded',
        detail: `over ${limits}`,
        ...(approved ? { approvalId: approved.approval_id } : {}),
      }
    }
  }
  if (approved && !(await useApproval(trx, approved.approval_id, ctx.decisionId, now)))
    return { pass: false, reason: 'approval_required', detail: 'the approval was used meanwhile' }
  return { pass: true, ...(approved ? { approvalId: approved.approval_id } : {}) }
}

function approvalKey(ctx: GateContext): ApprovalKey {
  const { row } = ctx.token
  return {
    holder: row.client_id,
    delegator: row.sub,
    delegatorIssuer: row.subject_issuer ?? SELF_ISSUER,
    taskId: row.task_id,
    resource: ctx.resource,
    objectId: ctx.objectId,
    action: ctx.action,
  }
}

async function requestApproval(trx: Kysely<DB>, key: ApprovalKey, ctx: GateContext, deps: GateDeps): Promise<string> {
  const { row, task } = ctx.token
  // Never outlives the token or the task it was requested for.
  const ends = [
    ctx.now + deps.approvalLifetime,
    row.expires_at.getTime() / 1000,
    (task?.expires_at.getTime() ?? Infinity) / 1000,
  ]
  const approval: ApprovalRow = {
    approval_id: randomUUID(),
    created_at: toDate(ctx.now),
    expires_at: toDate(Math.floor(Math.min(...ends))),
    task_id: key.taskId,
    token_jti: row.jti,
    holder: key.holder,
    delegator: key.delegator,
    delegator_issuer: key.delegatorIssuer,
    actor_chain: actorsOf(identityOnly(row.act) as ActClaim | undefined),
    resource: key.resource,
    object_id: key.objectId,
    action: key.action,
    status: 'pending',
    decided_at: null,
    decided_by: null,
    used_at: null,
    decision_id: ctx.decisionId,
    used_decision_id: null,
  }
  await insertApproval(trx, approval)
  if (ctx.approvalWebhook) await enqueueApprovalRequested(trx, deps, approval, ctx.approvalWebhook)
  return approval.approval_id
}

/** Counted per task; a token without a task counts per holder and person. */
function rateUses(ctx: GateContext): RateUse[] {
  const { row } = ctx.token
  const counter = row.task_id
    ? ['task', row.task_id]
    : ['holder', row.client_id, row.subject_issuer ?? SELF_ISSUER, row.sub]
  return ctx.requirement.rates.map((rate) => ({
    // JSON: unambiguous whatever the names hold (Postgres text takes no NUL separator).
    key: JSON.stringify([rate.path, rate.rule, ...counter]),
    max: rate.max,
    per: rate.per,
  }))
}
