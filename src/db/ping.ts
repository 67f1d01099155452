// The cheapest round trip that shows the database answers (readiness).
import { type Kysely, sql } from 'kysely'
import type { DB } from './schema.ts'

export async function pingDatabase(db: Kysely<DB>): Promise<void> {
  await sql`select 1`.execute(db)
}
