// Resolves where the token will be used: RFC 8707 `resource` URIs and RFC 8693 `audience` names of
// registered Resources, each bound for this client to one and the same policy path.
import type { Kysely } from 'kysely'
import { TOKEN_EXCHANGE } from '../oauth/protocol.ts'
import type { DB } from '../db/schema.ts'
import { type EffectivePolicy, effectivePolicy } from '../policy/effective.ts'
import { findBinding, loadLevels } from '../policy/store.ts'
import { findResourceByName, findResourceByUri, type ResourceRow } from '../resources/store.ts'
import { Denied } from './denials.ts'
import type { ExchangeParams } from './params.ts'

export async function resolveTargets(db: Kysely<DB>, params: ExchangeParams): Promise<ResourceRow[]> {
  const found = new Map<string, ResourceRow>()
  for (const uri of params.resources) {
    const row = await findResourceByUri(db, uri)
    if (!row) throw new Denied('target.unknown', `resource ${uri}`)
    found.set(row.uri, row)
  }
  for (const name of params.audiences) {
    const row = await findResourceByName(db, name)
    if (!row) throw new Denied('target.unknown', `audience ${name}`)
    found.set(row.uri, row)
  }
  if (found.size === 0) throw new Denied('target.unknown', 'no resource or audience')
  return [...found.values()]
}

/** The one policy path governing (client, every target, token exchange), with its effective policy. */
export async function resolvePolicy(
  db: Kysely<DB>,
  client: string,
  targets: readonly ResourceRow[],
): Promise<EffectivePolicy> {
  const paths = new Set<string>()
  for (const target of targets) {
    const path = await findBinding(db, client, target.uri, TOKEN_EXCHANGE)
    if (!path) throw new Denied('target.not_bound', target.uri)
    paths.add(path)
  }
  if (paths.size > 1) throw new Denied('target.mixed_policies', [...paths].join(', '))
  const levels = await loadLevels(db, [...paths][0] as string)
  if (levels.length === 0) throw new Denied('target.not_bound', 'bound path has no version')
  return effectivePolicy(levels)
}
