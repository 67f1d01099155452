// A resource as the document `mandate apply` reads (admin API GET, the web page): parsing it gives back the
// stored resource.
import { API_VERSION, metadataOf } from '../documents/envelope.ts'
import { formatDuration } from '../lib/duration.ts'
import { type ResourceDocument, scopeDescriptions, scopeNames } from './schema.ts'
import type { ResourceRow, ResourceWrite } from './store.ts'

export function resourceDocument(row: ResourceRow) {
  const descriptions = (row.scope_descriptions ?? {}) as Record<string, string>
  return {
    apiVersion: API_VERSION,
    kind: 'Resource' as const,
    metadata: metadataOf(row.name, row.description, row.labels),
    spec: {
      uri: row.uri,
      scopes: row.scopes.map((name) => (descriptions[name] ? { name, description: descriptions[name] } : name)),
      introspectors: row.introspectors,
      accessTokenLifetime: formatDuration(row.access_token_lifetime),
      ...(row.revocation_webhook === null ? {} : { revocationWebhook: row.revocation_webhook }),
    },
  }
}

/** The columns a Resource document is stored as, but its content hash (apply, and the offline catalog of `mandate policy test`). */
export function resourceColumns({ metadata, spec }: ResourceDocument): Required<Omit<ResourceWrite, 'content_hash'>> {
  return {
    name: metadata.name,
    uri: spec.uri,
    description: metadata.description ?? null,
    labels: metadata.labels ?? {},
    scopes: scopeNames(spec),
    scope_descriptions: scopeDescriptions(spec),
    introspectors: [...new Set(spec.introspectors)],
    access_token_lifetime: spec.accessTokenLifetime,
    revocation_webhook: spec.revocationWebhook ?? null,
  }
}
