// Exchanges refused by oidc-provider before our grant runs (a grant the client lacks, a repeated
// parameter) are decisions too: this wrapper records them, with X-Decision-Id. Only for an authenticated
// client: a request that fails (or lacks) client authentication writes nothing durable, or anyone could
// fill the database; it is counted and sampled in the log instead (http/client-auth-failures.ts).
import { randomUUID } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { KoaContextWithOIDC } from 'oidc-provider'
import { TOKEN_EXCHANGE } from '../oauth/protocol.ts'
import type { DB } from '../db/schema.ts'
import { blankDecision, type DecisionRecord } from '../decisions/store.ts'
import { type Clock, toDate } from '../lib/clock.ts'
import { clientAuthenticated } from '../oidc/unauthorized-client.ts'
import type { DenialReason } from '../delegation/decision.ts'
import { writeRefusal } from './write.ts'

const reasonOf: Record<string, DenialReason> = {
  unauthorized_client: 'client.grant_not_allowed',
}

export function recordEarlyRefusals(deps: { db: Kysely<DB>; clock: Clock; onDecision(record: DecisionRecord): void }) {
  return async function earlyRefusals(ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> {
    await next()
    // A 5xx is an outage or a bug, not a decision: nothing to record (and nothing could be, in an outage).
    if (ctx.path !== '/token' || ctx.method !== 'POST' || ctx.status < 400 || ctx.status >= 500) return
    if (ctx.response.get('X-Decision-Id')) return
    if (ctx.oidc?.params?.grant_type !== TOKEN_EXCHANGE || !clientAuthenticated(ctx)) return
    const body = (ctx.body ?? {}) as { error?: string; error_description?: string }
    const record: DecisionRecord = {
      ...blankDecision({
        decision_id: randomUUID(),
        created_at: toDate(deps.clock.now()),
        request_id: (ctx.state?.reqId as string | undefined) ?? null,
        grant_type: TOKEN_EXCHANGE,
        client_id: ctx.oidc.client?.clientId ?? null,
      }),
      reason: reasonOf[body.error ?? ''] ?? 'request.malformed',
      detail: `${body.error}: ${body.error_description}`,
    }
    // An outage here escapes to the 503 envelope: fail closed.
    await writeRefusal(deps.db, record, {
      type: 'token_exchange.denied',
      at: deps.clock.now(),
      actor: record.client_id,
      requestId: record.request_id,
      decisionId: record.decision_id,
      data: { reason: record.reason },
    })
    deps.onDecision(record)
    ctx.set('X-Decision-Id', record.decision_id)
  }
}
