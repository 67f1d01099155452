// What the consent page tells a person, in plain words: the app, each resource and each scope it asks
// for (a Resource's own descriptions), and, for an agent app, that it is one and what it may then do on
// their behalf (the resources and actions of the policy paths bound to it for token exchange). Pure.
import type { Catalog } from '../catalog/catalog.ts'
import { TOKEN_EXCHANGE } from '../oauth/protocol.ts'

export interface ConsentView {
  app: string
  clientId: string
  agent: boolean
  /** OpenID Connect scopes, described. */
  identity: Array<{ scope: string; description: string }>
  resources: Array<{ uri: string; name: string; description?: string; scopes: ScopeLine[] }>
  /** For an agent app: where it may act for the person, with which scopes and actions. */
  agentMay: Array<{ resource: string; scopes: string[]; actions: string[] }>
}

interface ScopeLine {
  scope: string
  description?: string
}

/** OpenID Connect Core §5.4 scopes, in the words a person reads. */
const IDENTITY_WORDS: Record<string, string> = {
  openid: 'Know who you are: your username at Mandate',
  profile: 'See your name',
  email: 'See your email address',
  offline_access: 'Stay connected while you are away (it may refresh its access until you sign out of it)',
}

export interface ConsentDetails {
  missingOIDCScope?: string[]
  missingResourceScopes?: Record<string, string[]>
}

export function consentView(
  catalog: Catalog,
  client: { clientId: string; name: string; agent: boolean },
  details: ConsentDetails,
): ConsentView {
  const identity = (details.missingOIDCScope ?? []).map((scope) => ({
    scope,
    description: IDENTITY_WORDS[scope] ?? scope,
  }))
  const resources = Object.entries(details.missingResourceScopes ?? {}).map(([uri, scopes]) => {
    const row = catalog.resourceByUri(uri)
    const described = (row?.scope_descriptions ?? {}) as Record<string, string>
    return {
      uri,
      name: row?.name ?? uri,
      ...(row?.description ? { description: row.description } : {}),
      scopes: scopes.map((scope) => ({ scope, ...(described[scope] ? { description: described[scope] } : {}) })),
    }
  })
  const agentMay = client.agent
    ? catalog
        .bindingsOf(client.clientId)
        .filter((binding) => binding.grantType === TOKEN_EXCHANGE)
        .map((binding) => {
          const policy = catalog.pathPolicy(binding.path)
          const resource = catalog.resourceByUri(binding.resource)
          const scopes = (resource?.scopes ?? []).filter((scope) => policy?.scopes?.includes(scope) ?? true)
          const actions = [...new Set((policy?.actions ?? []).flatMap((level) => level.rules.map((rule) => rule.name)))]
          return { resource: resource?.name ?? binding.resource, scopes, actions }
        })
    : []
  return { app: client.name, clientId: client.clientId, agent: client.agent, identity, resources, agentMay }
}
