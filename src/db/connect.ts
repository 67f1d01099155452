// Opens the one stateful dependency: Postgres through pg, or the embedded PGlite database for
// zero-setup development (single process, never production).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Kysely, PGliteDialect, PostgresDialect } from 'kysely'
import pg from 'pg'
import { boundedPool, hearEveryClient } from './bounded-pool.ts'
import { type Listener, listenPostgres } from './notify.ts'
import type { DB } from './schema.ts'

export interface Database {
  readonly db: Kysely<DB>
  readonly kind: 'postgres' | 'pglite'
  /** Runs onNotify for every NOTIFY on channel, from any process; embedded mode has only this one. */
  listen(channel: string, onNotify: () => void): Listener
  /**
   * Runs work on its own connection without the request bounds (MANDATE_DATABASE_TIMEOUT): migrations,
   * whose DDL may run long and which wait for the migration lock another process holds.
   */
  unbounded<T>(work: (db: Kysely<DB>) => Promise<T>): Promise<T>
  close(): Promise<void>
}

export interface DatabaseOptions {
  databaseUrl?: string | undefined
  databasePoolSize: number
  dataDir: string
  applicationName?: string
  /** Seconds every database wait is bounded by (MANDATE_DATABASE_TIMEOUT); 2 when not given. */
  databaseTimeout?: number
}

const DEFAULT_DATABASE_TIMEOUT = 2

export interface DatabaseLog {
  warn(fields: object, msg: string): void
  info(fields: object, msg: string): void
}

export async function connectDatabase(options: DatabaseOptions, log: DatabaseLog): Promise<Database> {
  return options.databaseUrl
    ? connectPostgres(options.databaseUrl, options, log)
    : connectEmbedded(options.dataDir, log)
}

function connectPostgres(url: string, options: DatabaseOptions, log: DatabaseLog): Database {
  const timeout = options.databaseTimeout ?? DEFAULT_DATABASE_TIMEOUT
  const applicationName = options.applicationName ?? 'mandate'
  // A wedged database fails requests closed (503) within the bound, never hangs them.
  const pool = boundedPool({ url, size: options.databasePoolSize, applicationName, timeout }, log)
  const listeners = new Set<Listener>()
  return {
    db: new Kysely<DB>({ dialect: new PostgresDialect({ pool }) }),
    kind: 'postgres',
    listen(channel, onNotify) {
      const listener = listenPostgres({ url, timeout }, channel, onNotify, log)
      listeners.add(listener)
      return listener
    },
    async unbounded(work) {
      const single = new pg.Pool({ connectionString: url, max: 1, application_name: applicationName })
      hearEveryClient(single, log)
      const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: single }) })
      try {
        return await work(db)
      } finally {
        await db.destroy()
      }
    },
    async close() {
      // A stalled database never answers the goodbye: after the bound, stop waiting (a SIGTERM during a
      // stall must still end the process); the sockets go with it.
      const ended = Promise.all([...listeners].map((l) => l.close())).then(() => pool.end())
      await Promise.race([ended, sleep(timeout * 1000, undefined, { ref: false })])
    },
  }
}

async function connectEmbedded(dataDir: string, log: DatabaseLog): Promise<Database> {
  const dir = resolve(dataDir)
  mkdirSync(dir, { recursive: true })
  const releaseLock = lockDataDir(dir)
  log.warn(
    { dataDir: dir },
    'EMBEDDED DEVELOPMENT DATABASE: no MANDATE_DATABASE_URL is set, so state lives in PGlite under the data dir. Single process, not for production.',
  )
  const { PGlite } = await import('@electric-sql/pglite')
  const pglite = await PGlite.create(join(dir, 'pgdata'))
  const db = new Kysely<DB>({ dialect: new PGliteDialect({ pglite }) })
  return {
    db,
    kind: 'pglite',
    listen: () => ({ connected: () => true, close: async () => {} }),
    unbounded: (work) => work(db),
    async close() {
      await db.destroy()
      releaseLock()
    },
  }
}

/** PGlite is one process per data dir: a second one would corrupt it, so it is refused. */
function lockDataDir(dir: string): () => void {
  const file = join(dir, 'mandate.pid')
  try {
    const pid = Number(readFileSync(file, 'utf8'))
    if (pid && pid !== process.pid && isAlive(pid)) {
      throw new Error(
        `the embedded database in ${dir} is in use by process ${pid}; stop it first (the embedded database allows one process)`,
      )
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  writeFileSync(file, String(process.pid))
  return () => rmSync(file, { force: true })
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
