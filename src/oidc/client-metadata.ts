// A clients row as oidc-provider client metadata, and our own members read back from its Client.
// Client scopes are resource catalogues known only at run time, so they travel as our own metadata
// member instead of oidc-provider's static `scope` allow-list.
import type { AdapterPayload, Client } from 'oidc-provider'
import { ADMIN_SCOPE } from '../clients/schema.ts'
import type { ClientRow } from '../clients/store.ts'

export const CLIENT_SCOPES = 'mandate_scopes'

/** The scopes a client may be granted (its document's spec.scopes). */
export const scopesOf = (client: Client): string[] =>
  ((client as unknown as Record<string, unknown>)[CLIENT_SCOPES] as string[]) ?? []

export const isAdmin = (client: Client): boolean => scopesOf(client).includes(ADMIN_SCOPE)

/** RFC 9449 §5.2 dpop_bound_access_tokens: every token request of the client carries a proof. */
export const requiresDpop = (client: Client): boolean => client.dpopBoundAccessTokens === true

/**
 * clients row → oidc-provider client metadata (the secret hash stands in for client_secret).
 * Grant types the server does not offer are left out, so one stale value cannot disable a client.
 */
export function clientMetadata(row: ClientRow, offered: ReadonlySet<string>): AdapterPayload {
  return {
    client_id: row.client_id,
    grant_types: row.grant_types.filter((grant) => offered.has(grant)),
    redirect_uris: row.redirect_uris,
    response_types: [],
    [CLIENT_SCOPES]: row.scopes,
    dpop_bound_access_tokens: row.dpop_bound_access_tokens,
    ...(row.secret_hash
      ? { client_secret: row.secret_hash, token_endpoint_auth_method: 'client_secret_basic' }
      : { jwks: row.jwks as AdapterPayload['jwks'], token_endpoint_auth_method: 'private_key_jwt' }),
  }
}
