// A trusted issuer as the document `mandate apply` reads (admin API GET, the web page), without the
// client secret of its upstream sign-in: a document sent back without it keeps the stored one.
import { API_VERSION, metadataOf } from '../documents/envelope.ts'
import { contentHash } from '../lib/canonical-json.ts'
import type { IssuerDocument, IssuerLogin } from './schema.ts'
import type { IssuerRow, IssuerWrite } from './store.ts'

export function issuerDocument(row: IssuerRow) {
  const login = row.login as IssuerLogin | null
  return {
    apiVersion: API_VERSION,
    kind: 'Issuer' as const,
    metadata: metadataOf(row.name, row.description, row.labels),
    spec: {
      issuer: row.issuer,
      ...(row.jwks_uri === null ? {} : { jwksUri: row.jwks_uri }),
      ...(row.jwks === null ? {} : { jwks: row.jwks }),
      algorithms: row.algorithms,
      ...(row.audience === null ? {} : { audience: row.audience }),
      tokensWithoutScope: row.tokens_without_scope,
      ...(login ? { login: { clientId: login.clientId, scopes: login.scopes } } : {}),
    },
  }
}

/** The columns an Issuer document is stored as, but its content hash (apply, and the offline catalog of `mandate policy test`). */
export function issuerColumns({ metadata, spec }: IssuerDocument): Required<Omit<IssuerWrite, 'content_hash'>> {
  return {
    name: metadata.name,
    issuer: spec.issuer,
    jwks_uri: spec.jwksUri ?? null,
    jwks: spec.jwks ?? null,
    algorithms: [...new Set(spec.algorithms)],
    audience: spec.audience ?? null,
    tokens_without_scope: spec.tokensWithoutScope,
    login: spec.login ?? null,
    description: metadata.description ?? null,
    labels: metadata.labels ?? {},
  }
}

/**
 * An Issuer document's content hash, without its upstream client secret: the hash is shown (ETag, audit
 * digests), and a plain hash over the secret would let anyone who reads it test guesses of the secret offline.
 * Whether the secret changed is compared on its own (plan-apply.ts), as a client's secret is.
 */
export function issuerContentHash(doc: IssuerDocument): string {
  const { login, ...spec } = doc.spec
  if (!login) return contentHash(doc)
  const { clientSecret: _secret, ...shown } = login
  return contentHash({ ...doc, spec: { ...spec, login: shown } })
}
