// Pure policy evaluation: no I/O, no clock reads, no throws. The grant (and later the admin
// "simulate" endpoint) call this one function, so a simulation cannot drift from the real thing.
import { type ActClaim, actorsOf, depthOf, nestAct, ourActorsOf } from './act-claim.ts'
import { chainProblem, holderProblem, recordHolder, repeatedParty } from './chain.ts'
import type { Decision, DenialReason } from './decision.ts'
import type { EffectivePolicy } from './effective.ts'
import { narrowScope } from './narrow-scope.ts'

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
}

export interface ExchangeFacts {
  now: number
  /** The authenticated client. */
  client: string
  /** The issuer our clients' identities belong to (may_act.iss must name it when present). */
  actorIssuer?: string
  subject: SubjectFacts
  actor?: ActorFacts
  requestedScope?: readonly string[]
  /** The scopes every targeted resource defines (their intersection), and the shortest resource lifetime. */
  resource: { scopes: readonly string[]; accessTokenLifetime: number }
  task?: { scope: readonly string[]; expiresAt: number }
  /** The calling client's registered scopes (Client spec.scopes): a cap on every grant. */
  clientScopes: readonly string[]
  /** An intermediary acts as the actor it presents: that actor's registered scopes cap the grant too. */
  actorScopes?: readonly string[]
  /** RFC 9449: the thumbprint of the request's verified DPoP proof, if it carried one. */
  dpopJkt?: string
  /** The client must send a DPoP proof with every token request (dpopBoundAccessTokens). */
  clientRequiresDpop?: boolean
}

const deny = (reason: DenialReason, detail?: string): Decision => ({
  allow: false,
  reason,
  ...(detail ? { detail } : {}),
})

export function evaluatePolicy(policy: EffectivePolicy, facts: ExchangeFacts): Decision {
  const { subject } = facts
  if (!policy.issuers.includes(subject.issuer)) return deny('subject_token.issuer_not_allowed', subject.issuer)
  // The issuer that vouched for `sub` at the root of the chain must be accepted too: one hop through
  // Mandate does not turn a person of a foreign IdP into a person of an issuer the path accepts.
  if (subject.origin !== undefined && !policy.issuers.includes(subject.origin)) {
    return deny('subject_token.issuer_not_allowed', `origin ${subject.origin}`)
  }
  if (policy.subjectTypes && !policy.subjectTypes.includes(subject.tokenType)) {
    return deny('subject_token.type_not_allowed', subject.tokenType)
  }

  // RFC 9449 §5: a bound token is presented only with a proof of its key; a path or a client may
  // require that every token it gets is bound.
  if ((policy.requireDpop || facts.clientRequiresDpop) && !facts.dpopJkt) return deny('request.dpop_required')
  if (subject.jkt !== undefined && subject.jkt !== facts.dpopJkt) {
    return deny('subject_token.key_not_proven', facts.dpopJkt ? 'another key' : 'no DPoP proof')
  }
  if (facts.actor?.jkt !== undefined && facts.actor.jkt !== facts.dpopJkt) {
    return deny('actor_token.key_not_proven', facts.dpopJkt ? 'another key' : 'no DPoP proof')
  }

  // Who acts now: the client itself, or — only for a trusted intermediary — the actor it presents.
  let currentActor = facts.client
  if (facts.actor && facts.actor.holder !== facts.client) {
    const trusted = policy.intermediaries.find((i) => i.client === facts.client)?.actors.includes(facts.actor.holder)
    if (!trusted) return deny('actor_token.not_bound_to_client', facts.actor.holder)
    currentActor = facts.actor.holder
  }
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

  const scope = narrowScope(facts.requestedScope, [
    subject.scope,
    policy.scopes,
    facts.task?.scope,
    facts.resource.scopes,
    facts.clientScopes,
    facts.actorScopes,
  ])
  if (scope === undefined) return deny('scope.not_allowed', facts.requestedScope?.join(' '))
  // A token that grants nothing is no answer: RFC 6749 §3.3 lets the server refuse with invalid_scope.
  if (scope.length === 0) return deny('scope.not_allowed', 'the narrowed scope is empty')

  // A child never outlives its parent, its policy, its task, its resource or its actor token.
  const expiresAt = Math.min(
    subject.expiresAt,
    facts.now + (policy.tokenLifetime ?? facts.resource.accessTokenLifetime),
    facts.now + facts.resource.accessTokenLifetime,
    facts.task?.expiresAt ?? Number.POSITIVE_INFINITY,
    // Nor the actor token it was minted with: the actor's credential ends, so does what it obtained.
    facts.actor?.expiresAt ?? Number.POSITIVE_INFINITY,
  )
  if (expiresAt <= facts.now) return deny('lifetime.exhausted')
  return act ? { allow: true, scope, act, expiresAt } : { allow: true, scope, expiresAt }
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
