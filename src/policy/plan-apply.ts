// Plans `kind: PolicyPath`: every changed document becomes a new immutable version (the next
// integer); an unchanged one creates none. A retired path is created again, whatever its last content.
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import { contentHash } from '../lib/canonical-json.ts'
import { type Planned, unchanged } from '../documents/plan.ts'
import type { PolicyPathDocument } from './schema.ts'
import { latestVersion, lockPathAndAncestors, type Provenance, saveVersion } from './store.ts'

export async function planPolicyPath(
  db: Kysely<DB>,
  doc: PolicyPathDocument,
  provenance?: Provenance,
): Promise<Planned> {
  const path = doc.metadata.name
  const hash = contentHash(doc)
  const latest = await latestVersion(db, path)
  if (latest?.content_hash === hash && !latest.retired) return unchanged('PolicyPath', path, hash)
  return {
    kind: 'PolicyPath',
    name: path,
    action: latest && !latest.retired ? 'updated' : 'created',
    digest: hash,
    previousDigest: latest && !latest.retired ? latest.content_hash : null,
    async write(target, now) {
      // Its ancestors too: a retirement of one of them checks for paths below it under its lock.
      await lockPathAndAncestors(target, path)
      const current = await latestVersion(target, path)
      if (current?.content_hash === hash && !current.retired) return { written: false }
      const version = (current?.version ?? 0) + 1
      await saveVersion(target, doc, version, hash, now, provenance)
      return { written: true, version }
    },
  }
}
