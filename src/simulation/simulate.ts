// A simulated token request (issue 13): the decision the catalog given (live, or with candidate documents in
// place: candidates.ts) makes for a request described by its facts. It builds the same facts the grants load
// and calls the same pure decisions — decideExchange, decideClientCredentials, decideEvaluation — so its answer
// is theirs; nothing is issued or written. The refusals of the edge before the decision (an unknown client or
// target, an untrusted issuer) are answered with the reasons the real grant records for them.
import type { Catalog } from '../catalog/catalog.ts'
import type { ClientRow } from '../clients/store.ts'
import { decideClientCredentials } from '../client-credentials/rules.ts'
import { type ExchangeFacts, decideExchange } from '../delegation/decide.ts'
import type { Constraint, Decision, DenialReason } from '../delegation/decision.ts'
import { Denied } from '../delegation/denied.ts'
import { loadBoundPolicy } from '../delegation/load-policy.ts'
import { commonScopes, policyOfTargets, resolveTargets, shortestLifetime } from '../delegation/targets.ts'
import { taskFactsOf } from '../delegation/task-facts.ts'
import { decideEvaluation } from '../evaluation/decide.ts'
import type { IssuedToken } from '../lineage/tokens.ts'
import { CLIENT_CREDENTIALS, TOKEN_EXCHANGE } from '../oauth/protocol.ts'
import type { ActClaim } from '../policy/act-claim.ts'
import type { EffectivePolicy } from '../policy/effective.ts'
import type { ResourceRow } from '../resources/store.ts'
import type { TaskRow } from '../tasks/store.ts'
import type { SimulationRequest } from './request.ts'
import { actingParty, actorFacts, subjectFacts } from './tokens.ts'
import { describedTask } from './task.ts'

export interface SimulationContext {
  /** What decides: the live catalog, or withCandidates(live, documents). */
  catalog: Catalog
  /** Our issuer URL: a subject with this iss (or none, or "self") is one of our tokens; may_act.iss names it. */
  issuer: string
  /** Epoch seconds the request is decided at. */
  now: number
  /** A stored task and whether it is live at `now`; absent offline (a task id is then refused as input). */
  readTask?(taskId: string): Promise<{ row: TaskRow; live: boolean } | undefined>
  /** One of our tokens' lineage row by jti (its origin, chain of tokens, bound key); absent offline. */
  readToken?(jti: string): Promise<IssuedToken | undefined>
}

export interface Simulation {
  decision: 'allow' | 'deny'
  /** 'allowed', or the denial reason the grant records (delegation/decision.ts). */
  reason: 'allowed' | DenialReason
  detail?: string
  /** The narrowed scope the token would carry. */
  scope?: string[]
  /** Epoch seconds, and seconds from now. */
  expires_at?: number
  lifetime?: number
  /** The nested act claim the token would carry (RFC 8693 §4.1); none for impersonation. */
  act?: ActClaim
  /** The path that decided, its version and the versions of every level. */
  policy?: { path: string; version: number; versions: Record<string, number> }
  /** Which input or policy level constrained what (by: subject_token, policy:<path>, task, resource, client…). */
  constrained_by: Constraint[]
  /** The runtime authorization decision for `action`, on the token that would be issued. */
  evaluation?: SimulatedEvaluation
}

export interface SimulatedEvaluation {
  action: string
  decision: 'allow' | 'deny'
  reason?: string
  detail?: string
  /** What the matching rules require; approval and rates are state, checked when the action is taken. */
  requirement?: {
    class: string
    scopes: string[]
    approval: boolean
    rates: Array<{ max: number; per: number; path: string; rule: string }>
    cache?: number
    matched: Array<{ path: string; rule: string }>
  }
}

/** A request the simulation cannot decide as described (for example a task id without a database). */
export class SimulationInputError extends Error {}

interface Decided {
  simulation: Simulation
  /** For the evaluation: the resource it is asked about and the task the token would be for. */
  resource?: string
  task?: { id: string; expiresAt: number; actions: string[] | null }
}

export async function simulate(request: SimulationRequest, context: SimulationContext): Promise<Simulation> {
  const client = context.catalog.enabledClient(request.client_id)
  const decided: Decided = !client
    ? { simulation: refused('client.authentication_failed', `client ${request.client_id} is unknown or disabled`) }
    : !client.grant_types.includes(request.grant_type)
      ? { simulation: refused('client.grant_not_allowed', request.grant_type) }
      : request.grant_type === CLIENT_CREDENTIALS
        ? clientCredentials(request, context, client)
        : await tokenExchange(request, context, client)
  if (request.action === undefined) return decided.simulation
  return { ...decided.simulation, evaluation: evaluation(request, request.action, context, decided) }
}

const refused = (reason: DenialReason, detail?: string, constrainedBy: Constraint[] = []): Simulation => ({
  decision: 'deny',
  reason,
  ...(detail ? { detail } : {}),
  constrained_by: constrainedBy,
})

const policyOf = (policy: EffectivePolicy | undefined) =>
  policy ? { policy: { path: policy.path, version: policy.version, versions: policy.versions } } : {}

/** RFC 8707 URIs are resources; any other name is a Resource's name, as an RFC 8693 audience. */
const targetsOf = (names: readonly string[]) => ({
  resources: names.filter((name) => URL.canParse(name)),
  audiences: names.filter((name) => !URL.canParse(name)),
})

async function tokenExchange(request: SimulationRequest, context: SimulationContext, client: ClientRow) {
  const { catalog, now } = context
  let targets: ResourceRow[]
  let policy: EffectivePolicy
  try {
    targets = resolveTargets(catalog, targetsOf(request.resource))
    policy = policyOfTargets(catalog, client.client_id, targets, TOKEN_EXCHANGE)
  } catch (error) {
    if (error instanceof Denied) return { simulation: refused(error.reason, error.detail) }
    throw error
  }
  const subject = await subjectFacts(request, context)
  if ('refused' in subject) return { simulation: { ...refused(...subject.refused), ...policyOf(policy) } }
  // As verifyActor: an actor token that is no longer active is refused (after the subject's refusals).
  if (request.actor_token?.exp !== undefined && request.actor_token.exp <= now)
    return { simulation: { ...refused('actor_token.invalid', 'expired'), ...policyOf(policy) } }
  const actor = actorFacts(request, client.client_id)
  const acting = actingParty(request, client.client_id)

  const taskRef = request.task ?? subject.taskId
  const found =
    typeof taskRef === 'string'
      ? await readTask(context, taskRef)
      : taskRef && { row: describedTask(taskRef, request, subject.facts, policy, targets, now), live: taskRef.live }
  const taskId = typeof taskRef === 'string' ? taskRef : taskRef?.id
  const task = taskId === undefined ? undefined : taskFactsOf(catalog, taskId, found, acting)

  const facts: ExchangeFacts = {
    now,
    policy,
    client: client.client_id,
    // oidc-provider authenticates a client with a secret or keys; one with neither is public ('none').
    confidential: client.secret_hash !== null || client.jwks !== null,
    actorIssuer: context.issuer,
    subject: subject.facts,
    ...(actor ? { actor } : {}),
    ...(request.scope ? { requestedScope: request.scope } : {}),
    resource: {
      uris: targets.map((t) => t.uri),
      scopes: commonScopes(targets),
      accessTokenLifetime: shortestLifetime(targets),
    },
    ...(task ? { task } : {}),
    clientScopes: client.scopes,
    ...(acting !== client.client_id ? { actorScopes: catalog.enabledClient(acting)?.scopes ?? [] } : {}),
    ...(request.dpop_jkt ? { dpopJkt: request.dpop_jkt } : {}),
    clientRequiresDpop: client.dpop_bound_access_tokens,
  }
  const decision = decideExchange(facts)
  const row = task?.row
  return {
    simulation: { ...fromDecision(decision), ...policyOf(policy) },
    resource: targets[0]?.uri as string,
    ...(row ? { task: { id: row.task_id, expiresAt: task.task?.expiresAt as number, actions: row.actions } } : {}),
  }
}

async function readTask(context: SimulationContext, taskId: string) {
  if (!context.readTask) throw new SimulationInputError(`task ${taskId} cannot be read here: describe the task`)
  return context.readTask(taskId)
}

function fromDecision(decision: Decision): Simulation {
  if (!decision.allow) return refused(decision.reason, decision.detail, decision.constrainedBy)
  return {
    decision: 'allow',
    reason: 'allowed',
    scope: decision.scope,
    expires_at: decision.expiresAt,
    lifetime: decision.lifetime,
    ...(decision.act ? { act: decision.act } : {}),
    constrained_by: decision.constrainedBy,
  }
}

/** RFC 6749 §4.4 as oidc-provider's resource indicator hook decides it (oidc/resource-indicators.ts). */
function clientCredentials(request: SimulationRequest, context: SimulationContext, client: ClientRow): Decided {
  const uri = request.resource[0] as string
  const resource = context.catalog.resourceByUri(uri)
  if (!resource) return { simulation: refused('target.unknown', `resource ${uri}`) }
  const bound = loadBoundPolicy(context.catalog, client.client_id, resource.uri, CLIENT_CREDENTIALS)
  if (bound === 'unreadable') return { simulation: refused('target.not_bound', resource.uri) }
  const requested = request.scope ?? []
  const outcome = decideClientCredentials({
    requested,
    clientScopes: client.scopes,
    resource: { scopes: resource.scopes, accessTokenLifetime: resource.access_token_lifetime },
    policy: bound,
    clientRequiresDpop: client.dpop_bound_access_tokens,
    proofPresented: request.dpop_jkt !== undefined,
    oneResource: true,
  })
  const bounds = [
    { by: 'client', scopes: client.scopes },
    { by: 'resource', scopes: resource.scopes },
    ...(bound?.levels ?? []).map((level) => ({ by: `policy:${level.path}`, scopes: level.scopes })),
  ]
  if (!outcome.ok) {
    if (outcome.error === 'dpop_required')
      return { simulation: { ...refused('request.dpop_required'), ...policyOf(bound) } }
    const constraints = bounds.flatMap(({ by, scopes }) => {
      const outside = scopes ? requested.filter((scope) => !scopes.includes(scope)) : []
      return outside.length > 0 ? [{ by, scope: outside }] : []
    })
    const detail = requested.length > 0 ? requested.join(' ') : 'nothing is allowed by default'
    return { simulation: { ...refused('scope.not_allowed', detail, constraints), ...policyOf(bound) } }
  }
  // The lifetime's constraint: the path's level that set it when shorter than the resource's.
  const level = bound?.levels.filter((l) => l.tokenLifetime === bound.tokenLifetime).at(-1)
  const by = level && outcome.lifetime < resource.access_token_lifetime ? `policy:${level.path}` : 'resource'
  return {
    simulation: {
      decision: 'allow',
      reason: 'allowed',
      scope: outcome.defaultScope ?? [...new Set(requested)],
      expires_at: context.now + outcome.lifetime,
      lifetime: outcome.lifetime,
      constrained_by: [{ by, lifetime: true }],
      ...policyOf(bound),
    },
    resource: resource.uri,
  }
}

/**
 * evaluation/evaluate.ts's facts for the token the request would be issued (none when refused: inactive), under
 * the binding in force in this catalog; the intent is the declared actions of the task the token is for.
 */
function evaluation(
  request: SimulationRequest,
  action: string,
  context: SimulationContext,
  decided: Decided,
): SimulatedEvaluation {
  const { simulation } = decided
  const bound = decided.resource
    ? loadBoundPolicy(context.catalog, request.client_id, decided.resource, request.grant_type)
    : undefined
  const policy =
    bound === 'unreadable' || (bound === undefined && request.grant_type === TOKEN_EXCHANGE)
      ? 'unbound'
      : (bound ?? 'none')
  const { task } = decided
  const outcome = decideEvaluation({
    now: context.now,
    action,
    policy,
    ...(simulation.decision === 'allow'
      ? {
          token: {
            holder: request.client_id,
            scope: simulation.scope ?? [],
            act: simulation.act,
            expiresAt: simulation.expires_at as number,
            task: task && { id: task.id, expiresAt: task.expiresAt },
            intents: task?.actions ? [{ task_id: task.id, actions: task.actions }] : [],
          },
        }
      : {}),
  })
  if (!outcome.allow) return { action, decision: 'deny', reason: outcome.reason, detail: outcome.detail }
  const requirement = outcome.requirement
  return {
    action,
    decision: 'allow',
    ...(requirement
      ? {
          requirement: {
            class: requirement.class,
            scopes: requirement.scopes,
            approval: requirement.approval,
            rates: requirement.rates,
            ...(outcome.cacheMaxAge !== undefined ? { cache: outcome.cacheMaxAge } : {}),
            matched: requirement.matched,
          },
        }
      : {}),
  }
}
