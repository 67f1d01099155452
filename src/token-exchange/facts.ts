// Loads the facts of one exchange for the decision (delegation/decide.ts): the request's proof and
// parameters, the targets and their policy, the subject and actor tokens, the task. What cannot become
// a fact (an unreadable request, an unknown target or token) is Denied here; every rule about facts
// is the decision's. The decision record learns each fact as it is loaded.
import type { Kysely } from 'kysely'
import type { Client, KoaContextWithOIDC } from 'oidc-provider'
import type { CatalogSource } from '../catalog/source.ts'
import type { DB } from '../db/schema.ts'
import { recordExchange } from '../decisions/exchange-facts.ts'
import type { DecisionRecord } from '../decisions/store.ts'
import { type VerifiedActor, verifyActor } from '../delegation/actor-token.ts'
import type { ExchangeFacts, TaskFacts } from '../delegation/decide.ts'
import { Denied } from '../delegation/denied.ts'
import { type TokenDeps, type VerifiedSubject, verifySubject } from '../delegation/subject-token.ts'
import { loadTaskFacts, readTask } from '../delegation/task-facts.ts'
import { commonScopes, policyOfTargets, resolveTargets, shortestLifetime } from '../delegation/targets.ts'
import { type DpopProof, DpopProblem } from '../dpop/proof.ts'
import { type DpopSettings, readDpopProof } from '../dpop/read-proof.ts'
import { TOKEN_EXCHANGE } from '../oauth/protocol.ts'
import { requiresDpop, scopesOf } from '../oidc/client-metadata.ts'
import { actorsOf } from '../policy/act-claim.ts'
import type { ResourceRow } from '../resources/store.ts'
import type { TaskRow } from '../tasks/store.ts'
import { type ExchangeParams, parseParams } from './params.ts'

export interface LoadDeps extends TokenDeps {
  db: Kysely<DB>
  /** The configuration of the request's generation (clients, resources, policies, issuers). */
  catalog: CatalogSource
  dpop: DpopSettings
}

export interface LoadedExchange {
  facts: ExchangeFacts
  params: ExchangeParams
  targets: ResourceRow[]
  subject: VerifiedSubject
  actor: VerifiedActor | undefined
  /** The task's row too, when there is one. */
  task: (TaskFacts & { row?: TaskRow }) | undefined
  proof: DpopProof | undefined
}

export async function loadExchange(
  ctx: KoaContextWithOIDC,
  deps: LoadDeps,
  record: DecisionRecord,
  now: number,
): Promise<LoadedExchange> {
  const client = ctx.oidc.client as Client
  const catalog = await deps.catalog.current()
  const proof = await readProof(ctx, deps, now)
  const params = parseParams(ctx.oidc.params as Record<string, unknown>)
  record.requested_scope = params.scope ?? null
  if (params.task_id) record.task_id = params.task_id

  const targets = resolveTargets(catalog, params)
  record.resources = targets.map((t) => t.uri)
  const policy = policyOfTargets(catalog, client.clientId, targets, TOKEN_EXCHANGE)
  Object.assign(record, { policy_path: policy.path, policy_version: policy.version, policy_versions: policy.versions })

  // The subject, the actor and a named task are read at once (each its own lookup, shared with concurrent
  // requests by the group commit), then taken in this order: the subject's refusal comes first, as before.
  const subjectRead = verifySubject(params.subject_token, params.subject_token_type, deps)
  const actorRead = params.actor ? verifyActor(params.actor.token, deps) : undefined
  const taskRead = params.task_id ? readTask(deps.db, params.task_id, now) : undefined
  for (const read of [actorRead, taskRead]) read?.catch(() => {}) // answered where awaited, if it is
  const subject = await subjectRead
  Object.assign(record, { subject: subject.facts.sub, subject_issuer: subject.facts.issuer, subject_ref: subject.ref })
  const actor = await actorRead
  // Who acts: the client, or the actor an intermediary presents (the decision says whether it may).
  const acting = actor && actor.facts.holder !== client.clientId ? actor.facts.holder : client.clientId
  // The chain as requested (current actor first); replaced by the issued token's own chain.
  record.actor_chain = [acting, ...actorsOf(subject.facts.act)]

  // A token of a task passes its task on: exchanging it without task_id still works for that task.
  const taskId = params.task_id ?? subject.taskId
  const begun = params.task_id === undefined ? undefined : taskRead
  const task = taskId === undefined ? undefined : await loadTaskFacts(deps.db, catalog, taskId, acting, now, begun)
  if (task?.row) record.task_id = task.row.task_id

  const facts: ExchangeFacts = {
    now,
    policy,
    client: client.clientId,
    confidential: client.clientAuthMethod !== 'none',
    actorIssuer: deps.issuer,
    subject: subject.facts,
    ...(actor ? { actor: actor.facts } : {}),
    ...(params.scope ? { requestedScope: params.scope } : {}),
    resource: { uris: record.resources, scopes: commonScopes(targets), accessTokenLifetime: shortestLifetime(targets) },
    ...(task ? { task } : {}),
    clientScopes: scopesOf(client),
    // The registered scopes of the actor an intermediary presents (none when it is unknown or disabled).
    ...(acting !== client.clientId ? { actorScopes: catalog.enabledClient(acting)?.scopes ?? [] } : {}),
    ...(proof ? { dpopJkt: proof.jkt } : {}),
    clientRequiresDpop: requiresDpop(client),
  }
  // Everything but the policy, kept with the record so a replay can decide it again (decisions/facts.ts).
  record.facts = recordExchange(facts, TOKEN_EXCHANGE, task?.row?.policy_paths)
  return { facts, params, targets, subject, actor, task, proof }
}

/** RFC 9449 §4.3: the request's DPoP proof, checked against the token endpoint's URL from the issuer. */
async function readProof(ctx: KoaContextWithOIDC, deps: LoadDeps, now: number): Promise<DpopProof | undefined> {
  try {
    return await readDpopProof(ctx, { url: `${deps.issuer}/token`, now }, deps.dpop)
  } catch (error) {
    if (!(error instanceof DpopProblem)) throw error
    throw new Denied(error.kind === 'nonce' ? 'request.dpop_nonce' : 'request.dpop_invalid', error.message)
  }
}
