// Announces a new approval request to the agent's product (Client.approvalWebhook), so it can ask the person:
// a signed Security Event Token (RFC 8417) in the webhook outbox, written in the evaluation's own transaction
// and delivered like task completions (tasks/webhooks.ts: RFC 8935 push, retried with backoff).
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import type { KeyRing } from '../keys/ring.ts'
import type { Clock } from '../lib/clock.ts'
import { enqueueEvent } from '../tasks/webhooks.ts'
import type { ApprovalRow } from './store.ts'

/** The event type URI of an approval request (RFC 8417 §2.2 `events` member name). */
export const APPROVAL_REQUESTED_EVENT = 'urn:mandate:secevent:approval-requested'

export interface ApprovalWebhookDeps {
  clock: Clock
  ring: Pick<KeyRing, 'signingKey'>
  issuer: string
}

export async function enqueueApprovalRequested(
  trx: Kysely<DB>,
  deps: ApprovalWebhookDeps,
  approval: ApprovalRow,
  url: string,
): Promise<void> {
  // The subscriber is the agent's client id (a resource URI for task completions).
  await enqueueEvent(trx, deps, {
    subscriber: approval.holder,
    url,
    type: APPROVAL_REQUESTED_EVENT,
    event: {
      approval_id: approval.approval_id,
      answer_uri: `${deps.issuer}/approvals/${approval.approval_id}`,
      delegator: approval.delegator,
      delegator_issuer: approval.delegator_issuer,
      agent: approval.holder,
      actor_chain: approval.actor_chain,
      task_id: approval.task_id,
      resource: approval.resource,
      object_id: approval.object_id,
      action: approval.action,
      expires_at: Math.floor(approval.expires_at.getTime() / 1000),
    },
  })
}
