// The configuration that decides requests, as one immutable value per generation: clients, resources,
// trusted issuers, policy bindings and the parsed levels of every path. Lookups are synchronous and
// pure; an effective policy is computed once per path and generation. Built by source.ts.
import type { ClientRow } from '../clients/store.ts'
import { type LoginIssuer, loginIssuerOf } from '../issuers/login.ts'
import type { IssuerRow } from '../issuers/store.ts'
import { type EffectivePolicy, effectivePolicy, type Level } from '../policy/effective.ts'
import { ancestorsOf } from '../policy/schema.ts'
import type { ResourceRow } from '../resources/store.ts'

export interface CatalogRows {
  generation: string
  clients: readonly ClientRow[]
  resources: readonly ResourceRow[]
  issuers: readonly IssuerRow[]
  bindings: ReadonlyArray<{ client_id: string; resource: string; grant_type: string; path: string }>
  /** The latest version of every path in force (a retired path has none). */
  levels: readonly Level[]
}

export interface Catalog {
  readonly generation: string
  /** The rows it was built from (a simulation builds a catalog of them with candidate documents in place). */
  readonly rows: CatalogRows
  /** The client, whether enabled or not. */
  client(clientId: string): ClientRow | undefined
  /** The client, unless it is unknown or disabled: the only lookup that may authenticate a client. */
  enabledClient(clientId: string): ClientRow | undefined
  resourceByUri(uri: string): ResourceRow | undefined
  resourceByName(name: string): ResourceRow | undefined
  issuerByIss(iss: string): IssuerRow | undefined
  /** The issuers people may sign in at (an Issuer document with `login`), by name. */
  loginIssuers(): readonly LoginIssuer[]
  /** The issuer named so, when people may sign in at it. */
  loginIssuer(name: string): LoginIssuer | undefined
  /** The path bound to (client, resource, grant type), if any. */
  boundPath(client: string, resource: string, grantType: string): string | undefined
  /**
   * The effective policy of a path: its latest version and every ancestor's, root first. undefined when
   * the path itself has no version (such a binding is unreadable: delegation/load-policy.ts).
   */
  pathPolicy(path: string): EffectivePolicy | undefined
  /** Every binding of a client, in the order applied (what the consent page tells a person an agent may do). */
  bindingsOf(client: string): ReadonlyArray<{ resource: string; grantType: string; path: string }>
}

const bindingKey = (client: string, resource: string, grantType: string) =>
  `${client}\u0000${resource}\u0000${grantType}`

export function buildCatalog(rows: CatalogRows): Catalog {
  const clients = new Map(rows.clients.map((row) => [row.client_id, row]))
  const byUri = new Map(rows.resources.map((row) => [row.uri, row]))
  const byName = new Map(rows.resources.map((row) => [row.name, row]))
  const issuers = new Map(rows.issuers.map((row) => [row.issuer, row]))
  const logins = rows.issuers
    .flatMap((row) => loginIssuerOf(row) ?? [])
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const loginsByName = new Map(logins.map((row) => [row.name, row]))
  const bindings = new Map(rows.bindings.map((b) => [bindingKey(b.client_id, b.resource, b.grant_type), b.path]))
  const levels = new Map(rows.levels.map((level) => [level.path, level]))
  const policies = new Map<string, EffectivePolicy | undefined>()
  return {
    generation: rows.generation,
    rows,
    client: (clientId) => clients.get(clientId),
    enabledClient(clientId) {
      const row = clients.get(clientId)
      return row && row.disabled_at === null ? row : undefined
    },
    resourceByUri: (uri) => byUri.get(uri),
    resourceByName: (name) => byName.get(name),
    issuerByIss: (iss) => issuers.get(iss),
    loginIssuers: () => logins,
    loginIssuer: (name) => loginsByName.get(name),
    boundPath: (client, resource, grantType) => bindings.get(bindingKey(client, resource, grantType)),
    bindingsOf: (client) =>
      rows.bindings
        .filter((b) => b.client_id === client)
        .map((b) => ({ resource: b.resource, grantType: b.grant_type, path: b.path })),
    pathPolicy(path) {
      if (!policies.has(path)) {
        const chain = ancestorsOf(path).flatMap((ancestor) => levels.get(ancestor) ?? [])
        policies.set(path, chain.at(-1)?.path === path ? effectivePolicy(chain) : undefined)
      }
      return policies.get(path)
    },
  }
}
