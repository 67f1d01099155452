// A client as the document `mandate apply` reads (admin API GET, the web page): parsing it gives back the
// stored client. Never its secret: only a hash of it is stored (secret-hash.ts).
import { API_VERSION, metadataOf } from '../documents/envelope.ts'
import type { ClientRow } from './store.ts'

export const clientDocument = (row: ClientRow) => ({
  apiVersion: API_VERSION,
  kind: 'Client' as const,
  metadata: metadataOf(row.client_id, row.description, row.labels),
  spec: {
    profile: row.profile,
    ...(row.jwks === null ? {} : { jwks: row.jwks }),
    grantTypes: row.grant_types,
    redirectUris: row.redirect_uris,
    postLogoutRedirectUris: row.post_logout_redirect_uris,
    agent: row.agent,
    scopes: row.scopes,
    // The document's own flag; `disable` (CLI or admin API) is state beside it, not part of the document.
    disabled: row.disabled_by_document,
    dpopBoundAccessTokens: row.dpop_bound_access_tokens,
    ...(row.approval_webhook === null ? {} : { approvalWebhook: row.approval_webhook }),
  },
})
