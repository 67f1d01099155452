// A clients row as oidc-provider client metadata, and our own members read back from its Client.
// Client scopes are resource catalogues known only at run time, so they travel as our own metadata
// member instead of oidc-provider's static `scope` allow-list.
import type { AdapterPayload, Client } from 'oidc-provider'
import { ADMIN_SCOPE } from '../clients/schema.ts'
import type { ClientRow } from '../clients/store.ts'
import { AUTHORIZATION_CODE } from '../oauth/protocol.ts'

export const CLIENT_SCOPES = 'mandate_scopes'
/** An agent app (spec.agent): consent says so, and the person's token names it in may_act. */
export const CLIENT_AGENT = 'mandate_agent'
/** The client's description, shown at consent as the app's name when it has one. */
export const CLIENT_DESCRIPTION = 'mandate_description'

/** The scopes a client may be granted (its document's spec.scopes). */
export const scopesOf = (client: Client): string[] =>
  ((client as unknown as Record<string, unknown>)[CLIENT_SCOPES] as string[]) ?? []

export const isAdmin = (client: Client): boolean => scopesOf(client).includes(ADMIN_SCOPE)

export const isAgentApp = (client: Client): boolean =>
  (client as unknown as Record<string, unknown>)[CLIENT_AGENT] === true

/** What people are shown as the app's name: its document's description, else its client_id. */
export const displayNameOf = (client: Client): string =>
  ((client as unknown as Record<string, unknown>)[CLIENT_DESCRIPTION] as string | undefined) ?? client.clientId

/** RFC 9449 §5.2 dpop_bound_access_tokens: every token request of the client carries a proof. */
export const requiresDpop = (client: Client): boolean => client.dpopBoundAccessTokens === true

/**
 * clients row → oidc-provider client metadata (the secret hash stands in for client_secret).
 * Grant types the server does not offer are left out, so one stale value cannot disable a client.
 */
export function clientMetadata(row: ClientRow, offered: ReadonlySet<string>): AdapterPayload {
  const grantTypes = row.grant_types.filter((grant) => offered.has(grant))
  return {
    client_id: row.client_id,
    grant_types: grantTypes,
    redirect_uris: row.redirect_uris,
    post_logout_redirect_uris: row.post_logout_redirect_uris,
    // RFC 6749 §3.1.1: the code flow is the only response type served.
    response_types: grantTypes.includes(AUTHORIZATION_CODE) ? ['code'] : [],
    [CLIENT_SCOPES]: row.scopes,
    [CLIENT_AGENT]: row.agent,
    ...(row.description ? { [CLIENT_DESCRIPTION]: row.description } : {}),
    dpop_bound_access_tokens: row.dpop_bound_access_tokens,
    ...(row.secret_hash
      ? { client_secret: row.secret_hash, token_endpoint_auth_method: 'client_secret_basic' }
      : row.jwks
        ? { jwks: row.jwks as AdapterPayload['jwks'], token_endpoint_auth_method: 'private_key_jwt' }
        : { token_endpoint_auth_method: 'none' }),
  }
}
