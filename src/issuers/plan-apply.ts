// Plans `kind: Issuer`: created, updated, or unchanged when its content hash matches.
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import { contentHash } from '../lib/canonical-json.ts'
import { type Planned, stored, unchanged } from '../documents/plan.ts'
import { issuerColumns } from './document.ts'
import type { IssuerDocument } from './schema.ts'
import { findIssuerByName, upsertIssuer } from './store.ts'

export async function planIssuer(db: Kysely<DB>, doc: IssuerDocument): Promise<Planned> {
  const { metadata } = doc
  const existing = await findIssuerByName(db, metadata.name)
  const hash = contentHash(doc)
  if (existing?.content_hash === hash) return unchanged('Issuer', metadata.name, hash)
  return {
    kind: 'Issuer',
    name: metadata.name,
    action: existing ? 'updated' : 'created',
    digest: hash,
    previousDigest: existing?.content_hash ?? null,
    write: (target, now) => upsertIssuer(target, { ...issuerColumns(doc), content_hash: hash }, now).then(stored),
  }
}
