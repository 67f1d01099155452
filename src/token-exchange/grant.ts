// RFC 8693 token exchange as an oidc-provider grant. This file orchestrates; every rule lives in a
// step it calls. Read top to bottom to see the whole exchange. Every outcome is a decision record.
import { randomUUID } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { KoaContextWithOIDC, Provider } from 'oidc-provider'
import { TOKEN_EXCHANGE } from '../clients/schema.ts'
import type { DB } from '../db/schema.ts'
import { type DecisionRecord, recordDecision } from '../decisions/store.ts'
import type { Clock } from '../lib/clock.ts'
import { toDate } from '../lib/clock.ts'
import { asUnavailable, failClosed } from '../oidc/errors.ts'
import { actorsOf } from '../policy/act-claim.ts'
import { evaluatePolicy } from '../policy/evaluate.ts'
import { verifyActor } from './actor-token.ts'
import { Denied, toOAuthError } from './denials.ts'
import { issueExchangedToken } from './issue.ts'
import { PARAMETERS, parseParams, REPEATABLE } from './params.ts'
import { type TokenDeps, verifySubject } from './subject-token.ts'
import { resolvePolicy, resolveTargets } from './targets.ts'

export interface TokenExchangeDeps extends TokenDeps {
  db: Kysely<DB>
  clock: Clock
  onDecision(record: DecisionRecord): void
}

export function registerTokenExchange(provider: Provider, deps: TokenExchangeDeps): void {
  provider.registerGrantType(TOKEN_EXCHANGE, exchange(deps), [...PARAMETERS], [...REPEATABLE])
}

function exchange(deps: TokenExchangeDeps) {
  return async function tokenExchange(ctx: KoaContextWithOIDC): Promise<void> {
    const now = deps.clock.now()
    const client = ctx.oidc.client as NonNullable<typeof ctx.oidc.client>
    const record = draft(ctx, client.clientId, now)
    ctx.set('X-Decision-Id', record.decision_id)
    try {
      if (client.clientAuthMethod === 'none') throw new Denied('client.not_confidential')
      if (ctx.get('dpop')) throw new Denied('request.dpop_unsupported')
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
      const actor = params.actor ? await verifyActor(params.actor.token, client.clientId, deps) : undefined
      // The chain as requested (current actor first); replaced by the issued token's own chain below.
      record.actor_chain = [actor && !actor.ownedByClient ? actor.sub : client.clientId, ...actorsOf(subject.facts.act)]

      // Tasks arrive with the tasks issue; until then no task_id can name a live task.
      if (params.task_id) throw new Denied('task.invalid', `unknown task ${params.task_id}`)
      if (policy.task.required) throw new Denied('request.task_required')

      const decision = evaluatePolicy(policy, {
        now,
        client: client.clientId,
        subject: subject.facts,
        ...(actor ? { actor: { sub: actor.sub, ownedByClient: actor.ownedByClient } } : {}),
        ...(params.scope ? { requestedScope: params.scope } : {}),
        resource: {
          scopes: [...new Set(targets.flatMap((t) => t.scopes))],
          accessTokenLifetime: Math.min(...targets.map((t) => t.access_token_lifetime)),
        },
      })
      if (!decision.allow) throw new Denied(decision.reason, decision.detail)
      record.actor_chain = actorsOf(decision.act)

      // The lineage row and the decision record commit together, before the response.
      const issued = await failClosed(() =>
        deps.db.transaction().execute(async (trx) => {
          const result = await issueExchangedToken({
            ctx,
            trx,
            decision,
            subject,
            targets,
            policy,
            decisionId: record.decision_id,
            requestedTokenType: params.requested_token_type,
            now,
          })
          Object.assign(record, {
            result: 'allow',
            reason: 'allowed',
            granted_scope: decision.scope,
            issued_jti: result.jti,
          })
          await recordDecision(trx, record)
          return result
        }),
      )
      deps.onDecision(record)
      ctx.body = issued.body
    } catch (error) {
      // An outage is a 503, a bug a 500: neither is dressed up as a denial (nor recorded as one).
      if (!(error instanceof Denied)) throw asUnavailable(error)
      Object.assign(record, { result: 'deny', reason: error.reason, detail: error.detail ?? null })
      await failClosed(() => recordDecision(deps.db, record))
      deps.onDecision(record)
      throw toOAuthError(error)
    }
  }
}

function draft(ctx: KoaContextWithOIDC, clientId: string, now: number): DecisionRecord {
  return {
    decision_id: randomUUID(),
    created_at: toDate(now),
    request_id: (ctx.state?.reqId as string | undefined) ?? null,
    grant_type: TOKEN_EXCHANGE,
    client_id: clientId,
    subject: null,
    subject_issuer: null,
    subject_ref: null,
    actor_chain: [],
    resources: [],
    requested_scope: null,
    granted_scope: null,
    policy_path: null,
    policy_version: null,
    policy_versions: null,
    task_id: null,
    result: 'deny',
    reason: 'request.malformed',
    detail: null,
    issued_jti: null,
  }
}
