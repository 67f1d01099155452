// An exchange's facts as its decision record keeps them (facts.ts), and the exchange decided again from them
// against a configuration's policy: the same decision function (delegation/decide.ts) on the same facts, with
// only the policy bound to (client, resources) — and the actors a task's paths list — read from the catalog
// given. Pure. A replay-only re-decision until the admin simulation shares it (issue 13).
import type { Catalog } from '../catalog/catalog.ts'
import { decideExchange, type ExchangeFacts } from '../delegation/decide.ts'
import type { Decision } from '../delegation/decision.ts'
import { Denied } from '../delegation/denied.ts'
import type { TokenLineage } from '../delegation/dependencies.ts'
import { actorsOfTask } from '../delegation/task-facts.ts'
import { policyOfTargets } from '../delegation/targets.ts'
import type { RecordedExchange } from './facts.ts'

type Lineage = NonNullable<RecordedExchange['subject']['lineage']>

const lineageOf = (row: TokenLineage): Lineage => ({
  jti: row.jti,
  ancestors: [...row.ancestors],
  depends_on: [...row.depends_on],
  task_path: [...row.task_path],
  client_id: row.client_id,
  parties: [...row.parties],
})

/** The facts of an exchange as kept: what decideExchange read besides the policy (and the task's paths). */
export function recordExchange(
  facts: ExchangeFacts,
  grantType: string,
  taskPolicyPaths: readonly string[] | undefined,
): RecordedExchange {
  const { subject, actor, task } = facts
  const row = task?.task
  return {
    v: 1,
    now: facts.now,
    client_id: facts.client,
    grant_type: grantType,
    resource: [...facts.resource.uris],
    ...(facts.requestedScope ? { scope: [...facts.requestedScope] } : {}),
    subject_token_type: subject.tokenType,
    subject: {
      issuer: subject.issuer,
      ...(subject.origin !== undefined ? { origin: subject.origin } : {}),
      sub: subject.sub,
      ...(subject.scope ? { scope: [...subject.scope] } : {}),
      ...(subject.act ? { act: subject.act } : {}),
      ...(subject.mayAct ? { may_act: subject.mayAct } : {}),
      exp: subject.expiresAt,
      ...(subject.holder !== undefined ? { client_id: subject.holder } : {}),
      ...(subject.jkt !== undefined ? { cnf: { jkt: subject.jkt } } : {}),
      ...(subject.lineage ? { lineage: lineageOf(subject.lineage) } : {}),
    },
    ...(actor
      ? {
          actor_token: {
            client_id: actor.holder,
            sub: actor.sub,
            origin: actor.origin,
            ...(actor.act ? { act: actor.act } : {}),
            ...(actor.expiresAt !== undefined ? { exp: actor.expiresAt } : {}),
            ...(actor.jkt !== undefined ? { cnf: { jkt: actor.jkt } } : {}),
            ...(actor.lineage ? { lineage: lineageOf(actor.lineage) } : {}),
          },
        }
      : {}),
    ...(task
      ? {
          task: {
            id: task.id,
            live: task.live,
            ...(row
              ? {
                  task_id: row.task_id,
                  client_id: row.client_id,
                  delegator: row.delegator,
                  delegator_issuer: row.delegator_issuer,
                  resources: [...row.resources],
                  scope: [...row.scope],
                  expires_in: row.expiresAt - facts.now,
                  task_path: [...row.task_path],
                  policy_paths: [...(taskPolicyPaths ?? [])],
                }
              : {}),
          },
        }
      : {}),
    ...(facts.dpopJkt !== undefined ? { dpop_jkt: facts.dpopJkt } : {}),
    context: {
      confidential: facts.confidential,
      ...(facts.actorIssuer !== undefined ? { actor_issuer: facts.actorIssuer } : {}),
      resource_scopes: [...facts.resource.scopes],
      access_token_lifetime: facts.resource.accessTokenLifetime,
      client_scopes: [...facts.clientScopes],
      ...(facts.actorScopes ? { actor_scopes: [...facts.actorScopes] } : {}),
      ...(facts.clientRequiresDpop !== undefined ? { client_requires_dpop: facts.clientRequiresDpop } : {}),
    },
  }
}

/** The exchange decided again, at its own time, by the policy the catalog binds to its client and resources. */
export function redecideExchange(recorded: RecordedExchange, catalog: Catalog): Decision {
  const targets = recorded.resource.map((uri) => ({ uri }))
  try {
    const policy = policyOfTargets(catalog, recorded.client_id, targets, recorded.grant_type)
    return decideExchange(exchangeFactsOf(recorded, policy, catalog))
  } catch (error) {
    // The catalog binds no path (or several) to these targets now: the exchange's own refusal.
    if (!(error instanceof Denied)) throw error
    return { allow: false, reason: error.reason, ...(error.detail ? { detail: error.detail } : {}) }
  }
}

function exchangeFactsOf(recorded: RecordedExchange, policy: ExchangeFacts['policy'], catalog: Catalog): ExchangeFacts {
  const { subject, actor_token: actor, task, context } = recorded
  // Who acts: the client, or the actor an intermediary presents (as token-exchange/facts.ts reads it).
  const acting = actor && actor.client_id !== recorded.client_id ? actor.client_id : recorded.client_id
  return {
    now: recorded.now,
    policy,
    client: recorded.client_id,
    confidential: context.confidential,
    ...(context.actor_issuer !== undefined ? { actorIssuer: context.actor_issuer } : {}),
    subject: {
      issuer: subject.issuer,
      ...(subject.origin !== undefined ? { origin: subject.origin } : {}),
      tokenType: recorded.subject_token_type,
      sub: subject.sub,
      ...(subject.scope ? { scope: subject.scope } : {}),
      ...(subject.act ? { act: subject.act } : {}),
      ...(subject.may_act ? { mayAct: withoutUndefined(subject.may_act) } : {}),
      expiresAt: subject.exp,
      ...(subject.client_id !== undefined ? { holder: subject.client_id } : {}),
      ...(subject.cnf ? { jkt: subject.cnf.jkt } : {}),
      ...(subject.lineage ? { lineage: subject.lineage } : {}),
    },
    ...(actor
      ? {
          actor: {
            holder: actor.client_id,
            sub: actor.sub,
            origin: actor.origin,
            ...(actor.act ? { act: actor.act } : {}),
            ...(actor.exp !== undefined ? { expiresAt: actor.exp } : {}),
            ...(actor.cnf ? { jkt: actor.cnf.jkt } : {}),
            ...(actor.lineage ? { lineage: actor.lineage } : {}),
          },
        }
      : {}),
    ...(recorded.scope ? { requestedScope: recorded.scope } : {}),
    resource: {
      uris: recorded.resource,
      scopes: context.resource_scopes,
      accessTokenLifetime: context.access_token_lifetime,
    },
    ...(task ? { task: taskFactsOf(task, recorded.now, acting, catalog) } : {}),
    clientScopes: context.client_scopes,
    ...(context.actor_scopes ? { actorScopes: context.actor_scopes } : {}),
    ...(recorded.dpop_jkt !== undefined ? { dpopJkt: recorded.dpop_jkt } : {}),
    ...(context.client_requires_dpop !== undefined ? { clientRequiresDpop: context.client_requires_dpop } : {}),
  }
}

/** The task as decided on; the actors its paths list come from the policy decided with (delegation/task-facts.ts). */
function taskFactsOf(
  task: NonNullable<RecordedExchange['task']>,
  now: number,
  acting: string,
  catalog: Catalog,
): NonNullable<ExchangeFacts['task']> {
  const { id, live, task_id, client_id, delegator, delegator_issuer } = task
  const known =
    task_id !== undefined && client_id !== undefined && delegator !== undefined && delegator_issuer !== undefined
  const listedActors = known && live && client_id !== acting ? actorsOfTask(catalog, task.policy_paths ?? []) : []
  if (!known) return { id, live, listedActors }
  return {
    id,
    live,
    listedActors,
    task: {
      task_id,
      client_id,
      delegator,
      delegator_issuer,
      resources: task.resources ?? [],
      scope: task.scope ?? [],
      expiresAt: now + (task.expires_in ?? 0),
      task_path: task.task_path ?? [],
    },
  }
}

const withoutUndefined = <T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>
  }
