// Who may learn about or end a token at oidc-provider's introspection and revocation endpoints.
import { type Client, errors, type KoaContextWithOIDC } from 'oidc-provider'
import type { CatalogSource } from '../catalog/source.ts'
import { isAdmin } from './client-metadata.ts'
import { failClosed } from './errors.ts'

/**
 * RFC 7662 §4: only the resource's named introspectors (or an admin) learn anything about a token; and
 * RFC 7662 §2.1: only one that authenticated. A public client (auth method none) proves nothing but its
 * client_id, which anyone can send, so it learns nothing, whatever its scopes or introspector listings.
 */
export function introspectionAllowed(catalogs: CatalogSource) {
  return async (_ctx: KoaContextWithOIDC, caller: Client, token: object): Promise<boolean> => {
    if (caller.clientAuthMethod === 'none') return false
    if (isAdmin(caller)) return true
    const { aud } = token as { aud?: string | string[] }
    const audiences = typeof aud === 'string' ? [aud] : (aud ?? [])
    const catalog = await failClosed(() => catalogs.current())
    return audiences.some((uri) => catalog.resourceByUri(uri)?.introspectors.includes(caller.clientId))
  }
}

/** RFC 7009 §2.1: only the client the token was issued to may revoke it. */
export async function revocationAllowed(_ctx: KoaContextWithOIDC, caller: Client, token: object): Promise<boolean> {
  if ((token as { clientId?: string }).clientId !== caller.clientId)
    throw new errors.InvalidRequest('client is not authorized to revoke the presented token')
  return true
}
