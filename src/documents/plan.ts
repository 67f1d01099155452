// What applying one document would do. Planning reads; only `write` changes anything.
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'

export type Action = 'created' | 'updated' | 'unchanged'

/** What a write did: `written` is false when a concurrent apply had already stored the same content. */
export interface Written {
  written: boolean
  /** The version a PolicyPath write saved. */
  version?: number
}

export interface Planned {
  kind: string
  name: string
  action: Action
  /** Content hash of the document as stored (never covering a client secret), for the audit trail. */
  digest: string
  /** The stored content hash this replaces; null when created. Equal to digest when only a secret changed. */
  previousDigest: string | null
  write(db: Kysely<DB>, now: Date): Promise<Written>
}

/** What an upsert did (`upsert(…).then(stored)`): it always stores. */
export const stored = (): Written => ({ written: true })

export const unchanged = (kind: string, name: string, digest: string): Planned => ({
  kind,
  name,
  action: 'unchanged',
  digest,
  previousDigest: digest,
  write: async () => ({ written: false }),
})
