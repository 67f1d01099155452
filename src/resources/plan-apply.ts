// Plans `kind: Resource`: created, updated, or unchanged when its content hash matches.
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import { contentHash } from '../lib/canonical-json.ts'
import { type Planned, stored, unchanged } from '../documents/plan.ts'
import { resourceColumns } from './document.ts'
import type { ResourceDocument } from './schema.ts'
import { findResourceByName, upsertResource } from './store.ts'

export async function planResource(db: Kysely<DB>, doc: ResourceDocument): Promise<Planned> {
  const { metadata } = doc
  const existing = await findResourceByName(db, metadata.name)
  const hash = contentHash(doc)
  if (existing?.content_hash === hash) return unchanged('Resource', metadata.name, hash)
  return {
    kind: 'Resource',
    name: metadata.name,
    action: existing ? 'updated' : 'created',
    digest: hash,
    previousDigest: existing?.content_hash ?? null,
    write: (target, now) => upsertResource(target, { ...resourceColumns(doc), content_hash: hash }, now).then(stored),
  }
}
