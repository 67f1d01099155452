// The one decision of a token exchange: every rule, in the order it is applied, over facts the edge
// loaded. Pure: no I/O, no clock reads, no throws. The grant calls it, and a simulation calling it
// with the same facts gets the same answer (reason, scope, lifetime, chain and what constrained them).
import { type ActClaim, actorsOf, depthOf, nestAct, ourActorsOf } from '../policy/act-claim.ts'
import type { EffectivePolicy } from '../policy/effective.ts'
import { narrowScopeBy } from '../policy/narrow-scope.ts'
import { type TaskAccessFacts, taskAccessProblem } from '../tasks/access.ts'
import { chainProblem, holderProblem, recordHolder, repeatedParty, subjectSourceProblem } from './chain.ts'
import type { Constraint, Decision, DenialReason, Refused } from './decision.ts'
import { dependenciesOf, MAX_LINEAGE, partiesOf, type TokenLineage } from './dependencies.ts'

export interface SubjectFacts {
  /** SELF_ISSUER for our own tokens, else the name of the trusted Issuer document. */
  issuer: string
  /** For our own tokens: the issuer that vouched for sub at the root of the chain (SELF_ISSUER or an Issuer name). */
  origin?: string
  /** The declared subject_token_type. */
  tokenType: string
  sub: string
  /** undefined only for a foreign token whose Issuer grants its policy ceiling to tokens without scope. */
  scope?: readonly string[]
  act?: ActClaim
  mayAct?: { sub?: string; client_id?: string; iss?: string }
  expiresAt: number
  /** For our own tokens: the client it was issued to (client_id). Foreign tokens have no holder here. */
  holder?: string
  /** RFC 9449 §6.1: the key the token is bound to (cnf.jkt). */
  jkt?: string
  /** For our own tokens: what its activity depends on (its lineage row). */
  lineage?: TokenLineage
}

/** A verified actor_token (RFC 8693 §2.1): one of our own tokens. */
export interface ActorFacts {
  /** The client it was issued to: the acting party it proves. */
  holder: string
  /** Its subject: the holder itself for an identity token, someone else for a delegated one. */
  sub: string
  /** Who vouches for sub at the root of its chain (SELF_ISSUER or an Issuer name). */
  origin: string
  act?: ActClaim
  expiresAt?: number
  jkt?: string
  lineage?: TokenLineage
}

/** The task the exchange works for: the one requested, or the subject token's own. */
export interface TaskFacts extends Omit<TaskAccessFacts, 'subject' | 'actor'> {
  task?: TaskAccessFacts['task'] & {
    resources: readonly string[]
    scope: readonly string[]
    expiresAt: number
    task_path: readonly string[]
  }
}

export interface ExchangeFacts {
  now: number
  /** The effective policy of the path bound to (client, targets, token exchange). */
  policy: EffectivePolicy
  /** The authenticated client. */
  client: string
  /** RFC 8693 §2.1 leaves client authentication to the server: only a confidential client exchanges. */
  confidential: boolean
  /** The issuer our clients' identities belong to (may_act.iss must name it when present). */
  actorIssuer?: string
  subject: SubjectFacts
  actor?: ActorFacts
  requestedScope?: readonly string[]
  /** The targeted resources' URIs (RFC 8707), the scopes every one defines, the shortest lifetime. */
  resource: { uris: readonly string[]; scopes: readonly string[]; accessTokenLifetime: number }
  task?: TaskFacts
  /** The calling client's registered scopes (Client spec.scopes): a cap on every grant. */
  clientScopes: readonly string[]
  /** An intermediary acts as the actor it presents: that actor's registered scopes cap the grant too. */
  actorScopes?: readonly string[]
  /** RFC 9449: the thumbprint of the request's verified DPoP proof, if it carried one. */
  dpopJkt?: string
  /** The client must send a DPoP proof with every token request (dpopBoundAccessTokens). */
  clientRequiresDpop?: boolean
}

const deny = (reason: DenialReason, detail?: string, constrainedBy?: Constraint[]): Refused => ({
  allow: false,
  reason,
  ...(detail ? { detail } : {}),
  ...(constrainedBy ? { constrainedBy } : {}),
})

export function decideExchange(facts: ExchangeFacts): Decision {
  const { subject, policy } = facts
  if (!facts.confidential) return deny('client.not_confidential')
  // Who acts now: the client itself, or — only for a trusted intermediary — the actor it presents.
  const presented = facts.actor && facts.actor.holder !== facts.client ? facts.actor.holder : undefined

  if (facts.task) {
    const problem = taskAccessProblem({
      ...facts.task,
      subject: {
        sub: subject.sub,
        origin: subject.origin ?? subject.issuer,
        act: subject.act,
        taskPath: subject.lineage?.task_path ?? [],
      },
      actor: presented ?? facts.client,
    })
    if (problem) return deny('task.invalid', problem)
    const outside = facts.resource.uris.find((uri) => !facts.task?.task?.resources.includes(uri))
    if (outside) return deny('target.not_in_task', outside)
  }
  if (policy.task.required && !facts.task) return deny('request.task_required')

  const source = subjectSourceProblem(policy, subject)
  if (source) return source

  // RFC 9449 §5: a bound token is presented only with a proof of its key; a path or a client may
  // require that every token it gets is bound.
  if ((policy.requireDpop || facts.clientRequiresDpop) && !facts.dpopJkt) return deny('request.dpop_required')
  if (subject.jkt !== undefined && subject.jkt !== facts.dpopJkt) {
    return deny('subject_token.key_not_proven', facts.dpopJkt ? 'another key' : 'no DPoP proof')
  }
  if (facts.actor?.jkt !== undefined && facts.actor.jkt !== facts.dpopJkt) {
    return deny('actor_token.key_not_proven', facts.dpopJkt ? 'another key' : 'no DPoP proof')
  }

  if (presented !== undefined) {
    const trusted = policy.intermediaries.find((i) => i.client === facts.client)?.actors.includes(presented)
    if (!trusted) return deny('actor_token.not_bound_to_client', presented)
  }
  const currentActor = presented ?? facts.client
  const chain = chainProblem(subject, facts.actor, facts.client)
  if (chain) return chain
  const acting = [facts.client, currentActor]
  const holder = holderProblem(policy, subject, acting)
  if (holder) return holder

  // RFC 8693 §4.4: may_act names who may act for the subject; nobody else may.
  if (subject.mayAct && subject.mayAct.sub !== currentActor && subject.mayAct.client_id !== currentActor) {
    return deny('delegation.may_act_mismatch', currentActor)
  }
  // may_act.iss (RFC 8693 §4.4) says in whose namespace that sub lives; our actors live in ours.
  if (subject.mayAct?.iss !== undefined && subject.mayAct.iss !== facts.actorIssuer) {
    return deny('delegation.may_act_mismatch', `may_act.iss ${subject.mayAct.iss}`)
  }

  const mode = chooseMode(policy, facts)
  if (!mode) return deny('delegation.mode_not_allowed')
  if (mode === 'impersonation' && subject.act) return deny('delegation.impersonation_of_delegated_token')
  // Impersonation records no chain: it may not make the token's holder disappear from the record.
  if (
    mode === 'impersonation' &&
    subject.holder !== undefined &&
    ![subject.sub, facts.client].includes(subject.holder)
  ) {
    return deny('delegation.impersonation_of_delegated_token', `the holder ${subject.holder} would vanish`)
  }

  const act = mode === 'delegation' ? nextAct(currentActor, recordHolder(subject, acting)) : undefined
  const actors = act ? actorsOf(act) : []
  // RFC 8693 §4.1 chains record who acted for whom; one that returns to an earlier party (A → B → A,
  // or an actor acting for itself) has no honest reading.
  const repeated = repeatedParty(subject, act)
  if (repeated) return deny('delegation.cycle', repeated)
  if (depthOf(act) > policy.maxDepth) return deny('delegation.too_deep', String(depthOf(act)))
  if (policy.actors) {
    // Impersonation leaves no act claim, but whoever impersonates must still be a listed actor; an actor
    // of another issuer (an entry with iss) is none of our clients, so it is never a listed one.
    const ours = act ? ourActorsOf(act) : [currentActor]
    const outsider =
      ours.find((actor) => !policy.actors?.includes(actor)) ??
      (ours.length < actors.length ? 'an actor of another issuer' : undefined)
    if (outsider) return deny('delegation.actor_not_allowed', outsider)
  }

  const task = facts.task?.task
  const narrowed = narrowScopeBy(facts.requestedScope, [
    { by: 'subject_token', scopes: subject.scope },
    ...policy.levels.map((level) => ({ by: `policy:${level.path}`, scopes: level.scopes })),
    { by: 'task', scopes: task?.scope },
    { by: 'resource', scopes: facts.resource.scopes },
    { by: 'client', scopes: facts.clientScopes },
    { by: 'actor', scopes: facts.actorScopes },
  ])
  const scopeConstraints = narrowed.removed.map(({ by, scopes }) => ({ by, scope: scopes }))
  const { scope } = narrowed
  if (scope === undefined) return deny('scope.not_allowed', facts.requestedScope?.join(' '), scopeConstraints)
  // A token that grants nothing is no answer: RFC 6749 §3.3 lets the server refuse with invalid_scope.
  if (scope.length === 0) return deny('scope.not_allowed', 'the narrowed scope is empty', scopeConstraints)

  // A child never outlives its parent, its policy, its task, its resource or its actor token (nor the
  // actor's credential: when it ends, so does what it obtained).
  const policyLevel = policy.levels.filter((level) => level.tokenLifetime === policy.tokenLifetime).at(-1)
  const ends: Array<[by: string, at: number]> = [
    ['subject_token', subject.expiresAt],
    [`policy:${policyLevel?.path ?? policy.path}`, facts.now + (policy.tokenLifetime ?? Number.POSITIVE_INFINITY)],
    ['resource', facts.now + facts.resource.accessTokenLifetime],
    ['task', task?.expiresAt ?? Number.POSITIVE_INFINITY],
    ['actor_token', facts.actor?.expiresAt ?? Number.POSITIVE_INFINITY],
  ]
  const expiresAt = Math.min(...ends.map(([, at]) => at))
  if (expiresAt <= facts.now) return deny('lifetime.exhausted')

  const dependencies = dependenciesOf(subject.lineage, facts.actor?.lineage, task)
  // Chains of impersonation or of actor tokens add no act depth; this bounds them instead.
  if (dependencies.size > MAX_LINEAGE) {
    return deny('delegation.too_deep', `${dependencies.size} tokens behind it`)
  }
  // The lifetime's constraint is the first input (in the order above) that sets the expiry.
  const setBy = ends.find(([, at]) => at === expiresAt)?.[0] as string
  return {
    allow: true,
    reason: 'allowed',
    scope,
    ...(act ? { act } : {}),
    expiresAt,
    lifetime: expiresAt - facts.now,
    constrainedBy: [...scopeConstraints, { by: setBy, lifetime: true }],
    dependencies,
    parties: partiesOf(facts.client, act, subject.lineage, facts.actor?.lineage),
  }
}

/**
 * The current actor wraps the chain it received, unless it already is that chain's current actor:
 * exchanging a token you act with again (to narrow it) is not another hop.
 */
const nextAct = (actor: string, previous: ActClaim | undefined): ActClaim =>
  previous?.sub === actor && previous.iss === undefined ? previous : nestAct({ sub: actor }, previous)

/**
 * RFC 8693 §1.1: delegation keeps the actor in `act`; impersonation does not. Where a path allows
 * both ("either"), a presented actor_token or a subject already carrying `act` means delegation.
 */
function chooseMode(policy: EffectivePolicy, facts: ExchangeFacts): 'delegation' | 'impersonation' | undefined {
  const delegation = policy.modes.includes('delegation')
  const impersonation = policy.modes.includes('impersonation')
  // A holder other than the subject and the caller must join the chain, which only delegation records.
  const holderJoins = recordHolder(facts.subject, [facts.client]) !== facts.subject.act
  if (delegation && impersonation)
    return facts.actor || facts.subject.act || holderJoins ? 'delegation' : 'impersonation'
  return delegation ? 'delegation' : impersonation ? 'impersonation' : undefined
}
