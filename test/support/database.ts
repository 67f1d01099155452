// One database per test file, cloned from the migrated template (or a fresh in-memory PGlite,
// migrated, when no Postgres server is available). Tests create their own rows with unique ids.
import { randomUUID } from 'node:crypto'
import { Kysely, PGliteDialect, sql } from 'kysely'
import { afterAll, beforeAll, inject } from 'vitest'
import type { Database } from '../../src/db/connect.ts'
import { connectDatabase } from '../../src/db/connect.ts'
import { migrateUp } from '../../src/db/migrations.ts'
import type { DB } from '../../src/db/schema.ts'
import { admin, withDatabase } from './global-setup.ts'

export interface TestDatabase {
  readonly database: Database
  readonly db: Kysely<DB>
  /** Postgres URL of this file's database; undefined on PGlite (single process). */
  readonly url: string | undefined
  readonly isPostgres: boolean
}

const quietLog = { warn: () => {}, info: () => {} }

/**
 * poolSize: connections of the file's pool (shared by the test and its server); 8 unless a test needs more.
 * timeout: MANDATE_DATABASE_TIMEOUT of that pool, in seconds; 10 (the old pool's statement timeout), so a
 * loaded machine does not turn slow tests into 503s. Tests of the bound itself set a short one.
 */
export function useDatabase(options: { poolSize?: number; timeout?: number } = {}): TestDatabase {
  const template = inject('templateDatabaseUrl')
  const isPostgres = template !== 'pglite'
  const name = `mandate_test_${randomUUID().replaceAll('-', '')}`
  const url = isPostgres ? withDatabase(template, name) : undefined
  let database: Database | undefined

  beforeAll(async () => {
    if (url) {
      await admin(template, (db) =>
        sql`create database ${sql.id(name)} template ${sql.id(new URL(template).pathname.slice(1))}`
          .execute(db)
          .then(() => {}),
      )
      database = await connectDatabase(
        {
          databaseUrl: url,
          databasePoolSize: options.poolSize ?? 8,
          dataDir: '.',
          databaseTimeout: options.timeout ?? 10,
        },
        quietLog,
      )
    } else {
      const { PGlite } = await import('@electric-sql/pglite')
      const pglite = await PGlite.create()
      const db = new Kysely<DB>({ dialect: new PGliteDialect({ pglite }) })
      await migrateUp(db)
      database = {
        db,
        kind: 'pglite',
        listen: () => ({ connected: () => true, close: async () => {} }),
        unbounded: (work) => work(db),
        close: () => db.destroy(),
      }
    }
  })
  afterAll(async () => {
    await database?.close()
    if (url)
      await admin(template, (db) =>
        sql`drop database if exists ${sql.id(name)} with (force)`.execute(db).then(() => {}),
      )
  })

  return {
    get database() {
      if (!database) throw new Error('useDatabase(): only available inside tests and hooks')
      return database
    },
    get db() {
      return this.database.db
    },
    url,
    isPostgres,
  }
}

/** How many rows a table holds. */
export async function rowCount(db: Kysely<DB>, table: keyof DB): Promise<number> {
  const row = await db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow()
  return Number(row.n)
}

const rowCounts = async (db: Kysely<DB>, tables: ReadonlyArray<keyof DB>): Promise<Record<string, number>> =>
  Object.fromEntries(await Promise.all(tables.map(async (table) => [table, await rowCount(db, table)] as const)))

/** Row counts of every table a refusal must leave untouched. */
export const counts = (db: Kysely<DB>) =>
  rowCounts(db, ['issued_tokens', 'clients', 'resources', 'signing_keys', 'oidc_payloads'])

/** Row counts of the tables a request writes to (tokens, decisions, audit, tasks, oidc-provider artefacts). */
export const writtenRows = (db: Kysely<DB>) =>
  rowCounts(db, ['issued_tokens', 'decisions', 'audit_events', 'tasks', 'oidc_payloads', 'approvals', 'action_rates'])
