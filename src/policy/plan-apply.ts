// Plans `kind: PolicyPath`: every changed document becomes a new immutable version (the next
// integer); an unchanged one creates none.
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import { contentHash } from '../lib/canonical-json.ts'
import { type Planned, unchanged } from '../documents/plan.ts'
import type { PolicyPathDocument } from './schema.ts'
import { latestVersion, lockPath, saveVersion } from './store.ts'

export async function planPolicyPath(db: Kysely<DB>, doc: PolicyPathDocument): Promise<Planned> {
  const path = doc.metadata.name
  const hash = contentHash(doc)
  const latest = await latestVersion(db, path)
  if (latest?.content_hash === hash) return unchanged('PolicyPath', path, hash)
  return {
    kind: 'PolicyPath',
    name: path,
    action: latest ? 'updated' : 'created',
    digest: hash,
    previousDigest: latest?.content_hash ?? null,
    async write(target, now) {
      await lockPath(target, path)
      const current = await latestVersion(target, path)
      if (current?.content_hash === hash) return { written: false }
      const version = (current?.version ?? 0) + 1
      await saveVersion(target, doc, version, hash, now)
      return { written: true, version }
    },
  }
}
