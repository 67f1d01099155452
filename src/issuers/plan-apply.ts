// Plans `kind: Issuer`: created, updated, or unchanged when its content hash matches.
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import { contentHash } from '../lib/canonical-json.ts'
import { type Planned, stored, unchanged } from '../documents/plan.ts'
import type { IssuerDocument } from './schema.ts'
import { findIssuerByName, upsertIssuer } from './store.ts'

export async function planIssuer(db: Kysely<DB>, doc: IssuerDocument): Promise<Planned> {
  const { metadata, spec } = doc
  const existing = await findIssuerByName(db, metadata.name)
  const hash = contentHash(doc)
  if (existing?.content_hash === hash) return unchanged('Issuer', metadata.name, hash)
  return {
    kind: 'Issuer',
    name: metadata.name,
    action: existing ? 'updated' : 'created',
    digest: hash,
    previousDigest: existing?.content_hash ?? null,
    write: (target, now) =>
      upsertIssuer(
        target,
        {
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
          content_hash: hash,
        },
        now,
      ).then(stored),
  }
}
