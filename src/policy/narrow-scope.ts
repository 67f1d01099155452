// Narrowing, stated once: issued = requested ∩ subject ∩ policy ceiling ∩ task ∩ resource catalogue.
// A request for anything outside that set is refused, never silently trimmed. Pure.

/** One allow-list and who set it; `scopes` undefined means "no constraint here". */
export interface ScopeBound {
  by: string
  scopes: readonly string[] | undefined
}

export interface Narrowed {
  /** undefined when the request exceeds the bounds. */
  scope: string[] | undefined
  /** What each bound removed: from the request, or (with none) from what the bounds before it allowed. */
  removed: Array<{ by: string; scopes: string[] }>
}

/**
 * Applies the bounds in order. With no request, everything the bounds allow is granted; with one, the
 * request is granted whole or refused, and `removed` names the bounds that refuse it and what.
 */
export function narrowScopeBy(requested: readonly string[] | undefined, bounds: readonly ScopeBound[]): Narrowed {
  let running = requested === undefined ? undefined : [...new Set(requested)]
  const removed: Narrowed['removed'] = []
  for (const { by, scopes } of bounds) {
    if (scopes === undefined) continue
    if (running === undefined) {
      running = [...new Set(scopes)]
      continue
    }
    const outside = running.filter((scope) => !scopes.includes(scope))
    if (outside.length > 0) removed.push({ by, scopes: outside })
    running = running.filter((scope) => scopes.includes(scope))
  }
  if (requested !== undefined) return { scope: removed.length === 0 ? (running ?? []) : undefined, removed }
  return { scope: running ?? [], removed }
}

/**
 * bounds: each an allow-list, or undefined for "no constraint at this level". With no request,
 * everything the bounds allow is granted. Returns undefined when the request exceeds the bounds.
 */
export const narrowScope = (
  requested: readonly string[] | undefined,
  bounds: ReadonlyArray<readonly string[] | undefined>,
): string[] | undefined =>
  narrowScopeBy(
    requested,
    bounds.map((scopes, index) => ({ by: String(index), scopes })),
  ).scope
