// Pure policy evaluation: no I/O, no clock reads, no throws. The grant (and later the admin
// "simulate" endpoint) call this one function, so a simulation cannot drift from the real thing.
import { type ActClaim, actorsOf, depthOf, nestAct } from './act-claim.ts'
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
  /** undefined when the token carries no scope claim (foreign tokens): no constraint from it. */
  scope?: readonly string[]
  act?: ActClaim
  mayAct?: { sub?: string; client_id?: string; iss?: string }
  expiresAt: number
}

export interface ExchangeFacts {
  now: number
  /** The authenticated client. */
  client: string
  /** The issuer our clients' identities belong to (may_act.iss must name it when present). */
  actorIssuer?: string
  subject: SubjectFacts
  /** A verified actor_token: whose it is, and whether it is the client's own. */
  actor?: { sub: string; ownedByClient: boolean; expiresAt?: number }
  requestedScope?: readonly string[]
  /** The union of the targeted resources' catalogues, and the shortest resource lifetime. */
  resource: { scopes: readonly string[]; accessTokenLifetime: number }
  task?: { scope: readonly string[]; expiresAt: number }
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

  // Who acts now: the client itself, or — only for a trusted intermediary — the actor it presents.
  let currentActor = facts.client
  if (facts.actor && !facts.actor.ownedByClient) {
    const trusted = policy.intermediaries.find((i) => i.client === facts.client)?.actors.includes(facts.actor.sub)
    if (!trusted) return deny('actor_token.not_bound_to_client', facts.actor.sub)
    currentActor = facts.actor.sub
  }

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

  const act = mode === 'delegation' ? nestAct({ sub: currentActor }, subject.act) : undefined
  if (depthOf(act) > policy.maxDepth) return deny('delegation.too_deep', String(depthOf(act)))
  if (policy.actors) {
    // Impersonation leaves no act claim, but whoever impersonates must still be a listed actor.
    const outsider = (act ? actorsOf(act) : [currentActor]).find((actor) => !policy.actors?.includes(actor))
    if (outsider) return deny('delegation.actor_not_allowed', outsider)
  }

  const scope = narrowScope(facts.requestedScope, [
    subject.scope,
    policy.scopes,
    facts.task?.scope,
    facts.resource.scopes,
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
 * RFC 8693 §1.1: delegation keeps the actor in `act`; impersonation does not. Where a path allows
 * both ("either"), a presented actor_token or a subject already carrying `act` means delegation.
 */
function chooseMode(policy: EffectivePolicy, facts: ExchangeFacts): 'delegation' | 'impersonation' | undefined {
  const delegation = policy.modes.includes('delegation')
  const impersonation = policy.modes.includes('impersonation')
  if (delegation && impersonation) return facts.actor || facts.subject.act ? 'delegation' : 'impersonation'
  return delegation ? 'delegation' : impersonation ? 'impersonation' : undefined
}
