// RFC 8707 resource indicators at oidc-provider's token endpoint: a registered resource becomes the
// token's audience, with the scope and lifetime the client_credentials rules allow (client-credentials/).
import { type Client, errors, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider'
import { decideClientCredentials } from '../client-credentials/rules.ts'
import type { CatalogSource } from '../catalog/source.ts'
import { loadBoundPolicy } from '../delegation/load-policy.ts'
import { SIGNING_ALG } from '../keys/store.ts'
import { RESOURCE_INVALID, SCOPE_INVALID } from '../oauth/descriptions.ts'
import { CLIENT_CREDENTIALS } from '../oauth/protocol.ts'
import type { EffectivePolicy } from '../policy/effective.ts'
import { requiresDpop, scopesOf } from './client-metadata.ts'
import { failClosed } from './errors.ts'

/** The policy path a client_credentials request was decided under, for its token's claims. */
export type DecidedPolicies = WeakMap<object, EffectivePolicy>

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
    return {
      scope: resource.scopes.join(' '),
      audience: resource.uri,
      accessTokenTTL: outcome.lifetime,
      accessTokenFormat: 'jwt',
      jwt: { sign: { alg: SIGNING_ALG } },
    }
  }
}
