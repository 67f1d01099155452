// Where the token will be used: RFC 8707 `resource` URIs and RFC 8693 `audience` names of registered
// Resources, each bound for this client to one and the same policy path.
import type { Catalog } from '../catalog/catalog.ts'
import type { EffectivePolicy } from '../policy/effective.ts'
import type { ResourceRow } from '../resources/store.ts'
import { Denied } from './denied.ts'
import { loadEffectivePolicy } from './load-policy.ts'

export function resolveTargets(
  catalog: Catalog,
  requested: { resources: readonly string[]; audiences: readonly string[] },
): ResourceRow[] {
  const found = new Map<string, ResourceRow>()
  for (const uri of requested.resources) {
    const row = catalog.resourceByUri(uri)
    if (!row) throw new Denied('target.unknown', `resource ${uri}`)
    found.set(row.uri, row)
  }
  for (const name of requested.audiences) {
    const row = catalog.resourceByName(name)
    if (!row) throw new Denied('target.unknown', `audience ${name}`)
    found.set(row.uri, row)
  }
  if (found.size === 0) throw new Denied('target.unknown', 'no resource or audience')
  return [...found.values()]
}

/** The one policy path governing (client, every target, grant type), with its effective policy. */
export function policyOfTargets(
  catalog: Catalog,
  client: string,
  targets: ReadonlyArray<Pick<ResourceRow, 'uri'>>,
  grantType: string,
): EffectivePolicy {
  const policies = new Map<string, EffectivePolicy>()
  for (const target of targets) {
    const policy = loadEffectivePolicy(catalog, client, target.uri, grantType)
    if (!policy) throw new Denied('target.not_bound', target.uri)
    policies.set(policy.path, policy)
  }
  if (policies.size > 1) throw new Denied('target.mixed_policies', [...policies.keys()].join(', '))
  return [...policies.values()][0] as EffectivePolicy
}

/** The scopes every target defines: a token for several resources carries only what each of them knows. */
export const commonScopes = (targets: readonly ResourceRow[]): string[] =>
  (targets[0]?.scopes ?? []).filter((scope) => targets.every((target) => target.scopes.includes(scope)))

export const shortestLifetime = (targets: readonly ResourceRow[]): number =>
  Math.min(...targets.map((target) => target.access_token_lifetime))
