// Announces a new approval request to the agent's product (Client.approvalWebhook), so it can ask the person:
// a signed Security Event Token (RFC 8417) in the webhook outbox, written in the evaluation's own transaction
// and delivered like task completions (tasks/webhooks.ts: RFC 8935 push, retried with backoff).
import { randomUUID } from 'node:crypto'
import { SignJWT } from 'jose'
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import type { KeyRing } from '../keys/ring.ts'
import { SIGNING_ALG } from '../keys/store.ts'
import { type Clock, toDate } from '../lib/clock.ts'
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
  const now = deps.clock.now()
  const { kid, privateKey } = deps.ring.signingKey()
  const event = await new SignJWT({
    events: {
      [APPROVAL_REQUESTED_EVENT]: {
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
    },
  })
    .setProtectedHeader({ alg: SIGNING_ALG, typ: 'secevent+jwt', kid })
    .setIssuer(deps.issuer)
    .setAudience(approval.holder)
    .setIssuedAt(now)
    .setJti(randomUUID())
    .sign(privateKey)
  await trx
    .insertInto('webhook_deliveries')
    .values({
      delivery_id: randomUUID(),
      // The subscriber: here the agent's client id (a resource URI for task completions).
      resource: approval.holder,
      url,
      event,
      created_at: toDate(now),
      next_attempt_at: toDate(now),
    })
    .execute()
}
