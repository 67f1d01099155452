// Which policy applies: the one answer, for every grant and edge, from the catalog of the request's
// configuration generation. A binding whose path has no stored version is unreadable and never grants:
// versions are never deleted, so this only guards a hand-edited database, and it fails closed everywhere
// (no target, no ceiling-free token).
import type { Catalog } from '../catalog/catalog.ts'
import type { EffectivePolicy } from '../policy/effective.ts'

/** The effective policy of the path bound to (client, resource, grant type); undefined when none is (or it is unreadable). */
export function loadEffectivePolicy(
  catalog: Catalog,
  client: string,
  resource: string,
  grantType: string,
): EffectivePolicy | undefined {
  const policy = loadBoundPolicy(catalog, client, resource, grantType)
  return policy === 'unreadable' ? undefined : policy
}

/**
 * For a grant where no binding means no ceiling (client_credentials): 'unreadable' when a binding names a
 * path with no stored version, so that it refuses instead of reading it as "no policy".
 */
export function loadBoundPolicy(
  catalog: Catalog,
  client: string,
  resource: string,
  grantType: string,
): EffectivePolicy | 'unreadable' | undefined {
  const path = catalog.boundPath(client, resource, grantType)
  return path === undefined ? undefined : (catalog.pathPolicy(path) ?? 'unreadable')
}

/** The effective policy of a path by name (a task keeps the names of the paths it was created under). */
export const loadPathPolicy = (catalog: Catalog, path: string): EffectivePolicy | undefined => catalog.pathPolicy(path)
