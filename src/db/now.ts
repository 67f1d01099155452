// The database's clock, the one every process is compared with (observability/clock-check.ts).
import { type Kysely, sql } from 'kysely'
import type { DB } from './schema.ts'

export async function databaseNow(db: Kysely<DB>): Promise<Date> {
  const { rows } = await sql<{ now: Date | string }>`select clock_timestamp() as now`.execute(db)
  return new Date(rows[0]?.now as Date | string)
}
