// Keeping delegation chains honest (RFC 8693 §2.1, §4.1 leave this to the server): which subject tokens
// a path accepts, whose token the subject is, which actor token may go with it, and that the token's
// holder stays on the record. Pure.
import { type ActClaim, nestAct, ourActorsOf } from '../policy/act-claim.ts'
import type { EffectivePolicy } from '../policy/effective.ts'
import { SELF_ISSUER } from '../policy/schema.ts'
import type { ActorFacts, SubjectFacts } from './decide.ts'
import type { Refused } from './decision.ts'

const denied = (reason: Refused['reason'], detail: string): Refused => ({
  allow: false,
  reason,
  detail,
})

/**
 * Whether the path accepts the subject token at all: its issuer, and the issuer that vouched for `sub`
 * at the root of its chain (one hop through Mandate does not turn a person of a foreign IdP into a
 * person of an issuer the path accepts), and its declared type.
 */
export function subjectSourceProblem(policy: EffectivePolicy, subject: SubjectFacts): Refused | undefined {
  if (!policy.issuers.includes(subject.issuer)) return denied('subject_token.issuer_not_allowed', subject.issuer)
  if (subject.origin !== undefined && !policy.issuers.includes(subject.origin)) {
    return denied('subject_token.issuer_not_allowed', `origin ${subject.origin}`)
  }
  if (policy.subjectTypes && !policy.subjectTypes.includes(subject.tokenType)) {
    return denied('subject_token.type_not_allowed', subject.tokenType)
  }
  return undefined
}

/** Who vouches for the subject of a token at the root of its chain. */
const originOf = (subject: SubjectFacts): string => subject.origin ?? subject.issuer

/** A token that acts for someone (a delegation) rather than being its holder's own identity. */
const actsForSomeone = (token: { holder?: string | undefined; sub: string; act?: ActClaim | undefined }) =>
  token.act !== undefined || (token.holder !== undefined && token.holder !== token.sub)

/**
 * The actor token must fit the subject token:
 * - roles swapped: the subject is the acting client's own identity while the actor token speaks for
 *   someone else (the person's token presented as the actor);
 * - spliced: an actor token that belongs to a delegation (it acts for someone) belongs to this one —
 *   the same subject, vouched for by the same issuer. An actor's own identity token fits any chain.
 */
export function chainProblem(
  subject: SubjectFacts,
  actor: ActorFacts | undefined,
  client: string,
): Refused | undefined {
  if (!actor) return undefined
  // Only a subject of our namespace can be one of our clients: a foreign person named like one is not.
  const subjectIsActing = originOf(subject) === SELF_ISSUER && [client, actor.holder].includes(subject.sub)
  if (subjectIsActing && actor.sub !== subject.sub && actsForSomeone(actor)) {
    return denied(
      'delegation.roles_swapped',
      `subject ${subject.sub} is the actor; the actor token is for ${actor.sub}`,
    )
  }
  if (actsForSomeone(actor) && (actor.sub !== subject.sub || actor.origin !== originOf(subject))) {
    return denied(
      'delegation.chain_spliced',
      `actor token of ${actor.sub} (${actor.origin}) with subject ${subject.sub}`,
    )
  }
  return undefined
}

/**
 * Whose token the subject is: one of our tokens may be exchanged by its holder (the caller or the actor
 * it acts as), by anyone when its holder is an actor already in its chain that the path lists in
 * delegation.actors (a sub-agent working from its agent's token), or when the path accepts its holder as
 * a subject source (holders).
 * Foreign tokens have no holder in our namespace; their issuer's trust decides.
 */
export function holderProblem(
  policy: EffectivePolicy,
  subject: SubjectFacts,
  acting: readonly string[],
): Refused | undefined {
  const { holder } = subject
  if (holder === undefined || acting.includes(holder)) return undefined
  // Listed, not merely allowed: a path without an actors list lets no other client take its agents' tokens.
  const listedInChain = ourActorsOf(subject.act).includes(holder) && policy.actors?.includes(holder) === true
  if (listedInChain || policy.holders.includes(holder)) return undefined
  return denied('subject_token.holder_not_allowed', `issued to ${holder}`)
}

/**
 * The chain the new actor wraps: the subject's own, with its holder added as the most recent prior
 * actor when it is neither the subject, nor acting now (the caller, who holds the new token, or the
 * actor it presents), nor already in the chain — a holder never vanishes from the record.
 */
export function recordHolder(subject: SubjectFacts, acting: readonly string[]): ActClaim | undefined {
  const { holder, act } = subject
  if (holder === undefined || holder === subject.sub || acting.includes(holder) || ourActorsOf(act).includes(holder)) {
    return act
  }
  return nestAct({ sub: holder }, act)
}

/**
 * The first party a chain names twice (A → B → A, or an actor acting for itself), if any. Parties are
 * compared within their issuer's namespace: actors of other issuers carry `iss`, and a foreign subject's
 * `sub` is never one of our clients.
 */
export function repeatedParty(subject: SubjectFacts, act: ActClaim | undefined): string | undefined {
  const seen = new Set(originOf(subject) === SELF_ISSUER ? [`\u0000${subject.sub}`] : [])
  for (let link = act; link; link = link.act) {
    const key = `${link.iss ?? ''}\u0000${link.sub}`
    if (seen.has(key)) return link.sub
    seen.add(key)
  }
  return undefined
}
