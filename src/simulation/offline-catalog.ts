// The catalog of a folder of documents, without a database (`mandate policy test` in CI): each Client,
// Resource, Issuer and PolicyPath document as the row `apply` would write for it (clients/, resources/,
// issuers/ plan-apply.ts), every path at version 1. Secrets are not hashed: only whether a client has one
// (or keys) matters to a decision. Pure.
import type { CatalogRows } from '../catalog/catalog.ts'
import type { ClientDocument } from '../clients/schema.ts'
import type { ClientRow } from '../clients/store.ts'
import { issuerColumns } from '../issuers/document.ts'
import type { IssuerDocument } from '../issuers/schema.ts'
import type { IssuerRow } from '../issuers/store.ts'
import { toDate } from '../lib/clock.ts'
import type { PolicyPathDocument } from '../policy/schema.ts'
import { resourceColumns } from '../resources/document.ts'
import type { ResourceDocument } from '../resources/schema.ts'
import type { ResourceRow } from '../resources/store.ts'

type CatalogDocument = ClientDocument | ResourceDocument | IssuerDocument | PolicyPathDocument | { kind: string }

const ofKind = <K extends string>(documents: readonly CatalogDocument[], kind: K) =>
  documents.filter((doc) => doc.kind === kind)

export function offlineCatalogRows(documents: readonly CatalogDocument[], now: number): CatalogRows {
  const at = toDate(now)
  const stamps = { content_hash: 'offline', created_at: at, updated_at: at }
  const clients = (ofKind(documents, 'Client') as ClientDocument[]).map(
    ({ metadata, spec }): ClientRow => ({
      client_id: metadata.name,
      description: metadata.description ?? null,
      labels: metadata.labels ?? {},
      profile: spec.profile,
      secret_hash: spec.secret === undefined ? null : 'offline: not hashed',
      jwks: spec.jwks ?? null,
      grant_types: [...new Set(spec.grantTypes)],
      redirect_uris: [...new Set(spec.redirectUris)],
      post_logout_redirect_uris: [...new Set(spec.postLogoutRedirectUris)],
      agent: spec.agent,
      scopes: [...new Set(spec.scopes)],
      dpop_bound_access_tokens: spec.dpopBoundAccessTokens,
      approval_webhook: spec.approvalWebhook ?? null,
      disabled_by_document: spec.disabled,
      disabled_by_cli: false,
      disabled_at: spec.disabled ? at : null,
      tokens_not_before: null,
      ...stamps,
    }),
  )
  const resources = (ofKind(documents, 'Resource') as ResourceDocument[]).map(
    (doc): ResourceRow => ({ ...resourceColumns(doc), ...stamps }),
  )
  const issuers = (ofKind(documents, 'Issuer') as IssuerDocument[]).map(
    (doc): IssuerRow => ({ ...issuerColumns(doc), ...stamps }),
  )
  const paths = ofKind(documents, 'PolicyPath') as PolicyPathDocument[]
  return {
    generation: 'offline',
    clients,
    resources,
    issuers,
    bindings: paths.flatMap((doc) =>
      doc.spec.bindings.map((b) => ({
        client_id: b.client,
        resource: b.resource,
        grant_type: b.grantType,
        path: doc.metadata.name,
      })),
    ),
    levels: paths.map((doc) => ({ path: doc.metadata.name, version: 1, spec: doc.spec })),
  }
}
