// RFC 8707 resource indicators at oidc-provider's authorization and token endpoints: a registered resource
// becomes the token's audience, with the scope and lifetime the client_credentials rules
// (client-credentials/) or the authorization_code rules (authorization-code/) allow.
import { type Client, errors, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider'
import { decideAuthorizationCode } from '../authorization-code/rules.ts'
import { decideClientCredentials } from '../client-credentials/rules.ts'
import type { Catalog } from '../catalog/catalog.ts'
import type { CatalogSource } from '../catalog/source.ts'
import type { ResourceRow } from '../resources/store.ts'
import { loadBoundPolicy } from '../delegation/load-policy.ts'
import { SIGNING_ALG } from '../keys/store.ts'
import { RESOURCE_INVALID, SCOPE_INVALID } from '../oauth/descriptions.ts'
import { AUTHORIZATION_CODE, CLIENT_CREDENTIALS } from '../oauth/protocol.ts'
import type { EffectivePolicy } from '../policy/effective.ts'
import { requiresDpop, scopesOf } from './client-metadata.ts'
import { failClosed } from './errors.ts'

/** The policy path a request was decided under, for its token's claims. */
export type DecidedPolicies = WeakMap<object, EffectivePolicy>

const resourceServer = (audience: string, scopes: readonly string[], lifetime: number): ResourceServer => ({
  scope: scopes.join(' '),
  audience,
  accessTokenTTL: lifetime,
  accessTokenFormat: 'jwt',
  jwt: { sign: { alg: SIGNING_ALG } },
})

export function resourceServerInfo(catalogs: CatalogSource, decided: DecidedPolicies) {
  return async function resourceServerInfo(
    ctx: KoaContextWithOIDC,
    indicator: string,
    client: Client,
  ): Promise<ResourceServer> {
    const catalog = await failClosed(() => catalogs.current())
    const resource = catalog.resourceByUri(indicator)
    if (!resource) throw new errors.InvalidTarget(RESOURCE_INVALID)
    const params = ctx.oidc.params ?? {}
    // /auth, PAR, and the code and refresh_token grants: everything but client_credentials is a person's grant.
    if (params.grant_type !== CLIENT_CREDENTIALS) return personGrant(ctx, catalog, resource, client, decided)
    const clientCredentials = params.grant_type === CLIENT_CREDENTIALS
    const policy = clientCredentials
      ? loadBoundPolicy(catalog, client.clientId, resource.uri, CLIENT_CREDENTIALS)
      : undefined
    // A binding that cannot be read never reads as "no ceiling" (as at the exchange: target.not_bound).
    if (policy === 'unreadable') throw new errors.InvalidTarget(RESOURCE_INVALID)
    if (policy) decided.set(ctx, policy)
    const outcome = decideClientCredentials({
      requested: String(params.scope ?? '')
        .split(' ')
        .filter(Boolean),
      clientScopes: scopesOf(client),
      resource: { scopes: resource.scopes, accessTokenLifetime: resource.access_token_lifetime },
      policy,
      clientRequiresDpop: clientCredentials && requiresDpop(client),
      // oidc-provider verified any proof sent before resolving the resource: only its absence is left.
      proofPresented: Boolean(ctx.get('DPoP')),
      // oidc-provider merges a repeated identical resource into one, so count distinct values.
      oneResource: clientCredentials && new Set([params.resource].flat()).size === 1,
    })
    if (!outcome.ok && outcome.error === 'dpop_required') throw new errors.InvalidDpopProof('a DPoP proof is required')
    // No `scope` member in the body: the refused value is the caller's own input (no echo).
    if (!outcome.ok) throw new errors.InvalidScope(SCOPE_INVALID, undefined as unknown as string)
    // The grant reads the scope from the params (RFC 6749 §3.3 default).
    if (outcome.defaultScope) params.scope = outcome.defaultScope.join(' ')
    return resourceServer(resource.uri, resource.scopes, outcome.lifetime)
  }
}

/**
 * A person's grant (RFC 6749 §4.1, §6): at /auth the scopes offered for consent, at /token the ceiling of
 * the token, both under the (client, resource, authorization_code) binding as it is now.
 */
function personGrant(
  ctx: KoaContextWithOIDC,
  catalog: Catalog,
  resource: ResourceRow,
  client: Client,
  decided: DecidedPolicies,
): ResourceServer {
  const policy = loadBoundPolicy(catalog, client.clientId, resource.uri, AUTHORIZATION_CODE)
  if (policy === 'unreadable') throw new errors.InvalidTarget(RESOURCE_INVALID)
  if (policy) decided.set(ctx, policy)
  const atTokenEndpoint = ctx.oidc.route === 'token'
  const outcome = decideAuthorizationCode({
    clientScopes: scopesOf(client),
    resource: { scopes: resource.scopes, accessTokenLifetime: resource.access_token_lifetime },
    policy,
    clientRequiresDpop: requiresDpop(client),
    proofPresented: Boolean(ctx.get('DPoP')),
    atTokenEndpoint,
  })
  if (!outcome.ok && outcome.error === 'dpop_required') throw new errors.InvalidDpopProof('a DPoP proof is required')
  if (!outcome.ok) throw new errors.InvalidTarget(RESOURCE_INVALID)
  return resourceServer(resource.uri, outcome.scopes, outcome.lifetime)
}
