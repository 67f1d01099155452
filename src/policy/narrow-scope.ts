// Narrowing, stated once: issued = requested ∩ subject ∩ policy ceiling ∩ task ∩ resource catalogue.
// A request for anything outside that set is refused, never silently trimmed. Pure.

/**
 * bounds: each an allow-list, or undefined for "no constraint at this level". With no request,
 * everything the bounds allow is granted. Returns undefined when the request exceeds the bounds.
 */
export function narrowScope(
  requested: readonly string[] | undefined,
  bounds: ReadonlyArray<readonly string[] | undefined>,
): string[] | undefined {
  const present = bounds.filter((bound): bound is readonly string[] => bound !== undefined)
  const allowed = present.reduce<string[] | undefined>(
    (acc, bound) => (acc ?? [...new Set(bound)]).filter((scope) => bound.includes(scope)),
    undefined,
  )
  if (requested === undefined) return allowed ?? []
  const unique = [...new Set(requested)]
  if (allowed === undefined) return unique
  return unique.every((scope) => allowed.includes(scope)) ? unique : undefined
}
