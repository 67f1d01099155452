// A trusted issuer as the document `mandate apply` reads (admin API GET, the web page), without the
// client secret of its upstream sign-in: a document sent back without it keeps the stored one.
import { API_VERSION, metadataOf } from '../documents/envelope.ts'
import type { IssuerLogin } from './schema.ts'
import type { IssuerRow } from './store.ts'

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
