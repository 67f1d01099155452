// Which policy applies: the one loader of effective policies, for every grant and edge. A binding whose
// path has no stored version is unreadable and never grants: versions are never deleted, so this only
// guards a hand-edited database, and it fails closed everywhere (no target, no ceiling-free token).
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import { type EffectivePolicy, effectivePolicy, type Level } from '../policy/effective.ts'
import { loadBoundLevels, loadLevels } from '../policy/store.ts'

const effective = (path: string, levels: readonly Level[]): EffectivePolicy | undefined =>
  levels.at(-1)?.path === path ? effectivePolicy(levels) : undefined

/** The effective policy of the path bound to (client, resource, grant type); undefined when none is (or it is unreadable). */
export async function loadEffectivePolicy(
  db: Kysely<DB>,
  client: string,
  resource: string,
  grantType: string,
): Promise<EffectivePolicy | undefined> {
  const policy = await loadBoundPolicy(db, client, resource, grantType)
  return policy === 'unreadable' ? undefined : policy
}

/**
 * For a grant where no binding means no ceiling (client_credentials): 'unreadable' when a binding names a
 * path with no stored version, so that it refuses instead of reading it as "no policy".
 */
export async function loadBoundPolicy(
  db: Kysely<DB>,
  client: string,
  resource: string,
  grantType: string,
): Promise<EffectivePolicy | 'unreadable' | undefined> {
  const bound = await loadBoundLevels(db, client, resource, grantType)
  return bound && (effective(bound.path, bound.levels) ?? 'unreadable')
}

/** The effective policy of a path by name (a task keeps the names of the paths it was created under). */
export async function loadPathPolicy(db: Kysely<DB>, path: string): Promise<EffectivePolicy | undefined> {
  return effective(path, await loadLevels(db, path))
}
