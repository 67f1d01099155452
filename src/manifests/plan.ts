// What applying one document would do. Planning reads; only `write` changes anything.
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'

export type Action = 'created' | 'updated' | 'unchanged'

export interface Planned {
  kind: string
  name: string
  action: Action
  write(db: Kysely<DB>, now: Date): Promise<void>
}

export const unchanged = (kind: string, name: string): Planned => ({
  kind,
  name,
  action: 'unchanged',
  write: async () => {},
})
