// Plain-SQL migrations (migrations/NNNN_verb_object.sql, forward-only) run by Kysely's Migrator,
// which holds a Postgres advisory lock, keeps kysely_migration and checks the order.
import { readdir, readFile } from 'node:fs/promises'
import { type Kysely, sql } from 'kysely'
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration'

const migrationsDir = new URL('../../migrations/', import.meta.url)

function sqlMigrations(dir: URL = migrationsDir): MigrationProvider {
  return {
    async getMigrations() {
      const files = (await readdir(dir)).filter((name) => /^\d{4}_[a-z0-9_]+\.sql$/.test(name)).sort()
      const migrations: Record<string, Migration> = {}
      for (const file of files) {
        const text = await readFile(new URL(file, dir), 'utf8')
        migrations[file.slice(0, -'.sql'.length)] = {
          // One statement at a time: PGlite's driver only speaks the extended protocol.
          up: async (db) => {
            for (const statement of splitStatements(text)) await sql.raw(statement).execute(db)
          },
        }
      }
      return migrations
    },
  }
}

export interface MigrationStatus {
  applied: string[]
  pending: string[]
  /** Applied in the database but unknown to this build (a newer version migrated it). */
  unknown: string[]
}

// biome-ignore lint/suspicious/noExplicitAny: the migrator works on any schema
type AnyDb = Kysely<any>

export async function migrationStatus(db: AnyDb): Promise<MigrationStatus> {
  const known = await new Migrator({ db, provider: sqlMigrations() }).getMigrations()
  const applied = known.filter((m) => m.executedAt !== undefined).map((m) => m.name)
  const pending = known.filter((m) => m.executedAt === undefined).map((m) => m.name)
  const names = new Set(known.map((m) => m.name))
  const recorded = await sql<{ name: string }>`select name from kysely_migration`.execute(db).then(
    (result) => result.rows.map((row) => row.name),
    () => [] as string[],
  )
  return { applied, pending, unknown: recorded.filter((name) => !names.has(name)) }
}

/** Applies every pending migration; returns the names applied. Throws on the first failure. */
export async function migrateUp(db: AnyDb): Promise<string[]> {
  const { error, results } = await new Migrator({ db, provider: sqlMigrations() }).migrateToLatest()
  if (error) throw new Error('migration failed', { cause: error })
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}

/** Splits a SQL file on top-level semicolons, respecting quotes, comments and dollar quoting. */
export function splitStatements(text: string): string[] {
  const statements: string[] = []
  let start = 0
  let i = 0
  while (i < text.length) {
    const rest = text.slice(i)
    if (rest.startsWith('--')) {
      i = text.indexOf('\n', i) === -1 ? text.length : text.indexOf('\n', i)
    } else if (rest.startsWith('/*')) {
      i = text.indexOf('*/', i) === -1 ? text.length : text.indexOf('*/', i) + 2
    } else if (text[i] === "'" || text[i] === '"') {
      const quote = text[i]
      i++
      while (i < text.length && !(text[i] === quote && text[i + 1] !== quote)) i += text[i] === quote ? 2 : 1
      i++
    } else if (/^\$[a-z_]*\$/i.test(rest)) {
      const tag = /^\$[a-z_]*\$/i.exec(rest)?.[0] as string
      const end = text.indexOf(tag, i + tag.length)
      i = end === -1 ? text.length : end + tag.length
    } else if (text[i] === ';') {
      statements.push(text.slice(start, i))
      start = ++i
    } else {
      i++
    }
  }
  statements.push(text.slice(start))
  return statements.map((s) => s.trim()).filter((s) => s.replace(/--[^\n]*/g, '').trim().length > 0)
}

/** MANDATE_MIGRATE=check: wait (like `hydra migrate status --block`) until another process migrated. */
export async function waitForMigrations(
  db: AnyDb,
  log: { warn(fields: object, msg: string): void },
  intervalMs = 2_000,
): Promise<void> {
  for (;;) {
    const { pending } = await migrationStatus(db)
    if (pending.length === 0) return
    log.warn({ pending }, 'MANDATE_MIGRATE=check: waiting for pending migrations (run `mandate migrate up`)')
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}
