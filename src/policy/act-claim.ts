// The nested `act` claim (RFC 8693 §4.1): the outermost act is the current actor, earlier actors
// nest inside it. Only identity members are carried (sub, and iss for actors of other issuers).

export interface ActClaim {
  sub: string
  iss?: string
  act?: ActClaim
}

/** The current actor wraps the chain it received. */
export const nestAct = (actor: { sub: string; iss?: string }, previous?: ActClaim): ActClaim => ({
  sub: actor.sub,
  ...(actor.iss ? { iss: actor.iss } : {}),
  ...(previous ? { act: previous } : {}),
})

export const depthOf = (act?: ActClaim): number => (act ? 1 + depthOf(act.act) : 0)

/** Actor subjects, outermost (current) first. */
export const actorsOf = (act?: ActClaim): string[] => (act ? [act.sub, ...actorsOf(act.act)] : [])

/** Keeps only identity members, recursively; anything else in a received act is dropped. */
export function identityOnly(value: unknown, depth = 0): ActClaim | undefined {
  if (depth > 16 || typeof value !== 'object' || value === null) return undefined
  const { sub, iss, act } = value as Record<string, unknown>
  if (typeof sub !== 'string' || sub.length === 0) return undefined
  const inner = act === undefined ? undefined : identityOnly(act, depth + 1)
  if (act !== undefined && inner === undefined) return undefined
  return { sub, ...(typeof iss === 'string' ? { iss } : {}), ...(inner ? { act: inner } : {}) }
}

/**
 * Actors that are our clients (entries without `iss`), outermost first: only these can be listed actors,
 * holders or parties. An entry with `iss` names an identity of another issuer.
 */
export const ourActorsOf = (act?: ActClaim): string[] =>
  act ? [...(act.iss === undefined ? [act.sub] : []), ...ourActorsOf(act.act)] : []

/**
 * A received chain in the namespace it lives in: entries of a foreign token without `iss` are that
 * issuer's identities (tagged with it), and an `iss` naming us is dropped (our clients carry none).
 */
export function inNamespace(act: ActClaim | undefined, issuer: string | undefined, ours: string): ActClaim | undefined {
  if (!act) return undefined
  const iss = act.iss ?? issuer
  const inner = inNamespace(act.act, issuer, ours)
  return { sub: act.sub, ...(iss !== undefined && iss !== ours ? { iss } : {}), ...(inner ? { act: inner } : {}) }
}
