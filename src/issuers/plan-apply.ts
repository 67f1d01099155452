// Plans `kind: Issuer`: created, updated, or unchanged when its content hash (which leaves out the upstream
// client secret) matches and the secret is the same.
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import { type Planned, stored, unchanged } from '../documents/plan.ts'
import { issuerColumns, issuerContentHash } from './document.ts'
import type { IssuerDocument, IssuerLogin } from './schema.ts'
import { findIssuerByName, upsertIssuer } from './store.ts'

export async function planIssuer(db: Kysely<DB>, doc: IssuerDocument): Promise<Planned> {
  const { metadata } = doc
  const existing = await findIssuerByName(db, metadata.name)
  const hash = issuerContentHash(doc)
  const sameSecret = (existing?.login as IssuerLogin | null)?.clientSecret === doc.spec.login?.clientSecret
  if (existing?.content_hash === hash && sameSecret) return unchanged('Issuer', metadata.name, hash)
  return {
    kind: 'Issuer',
    name: metadata.name,
    action: existing ? 'updated' : 'created',
    digest: hash,
    previousDigest: existing?.content_hash ?? null,
    write: (target, now) => upsertIssuer(target, { ...issuerColumns(doc), content_hash: hash }, now).then(stored),
  }
}
