// The services every entry point stands on: database, schema, clock, log, master keys, key ring, issuer.
// Composed here once, so `mandate serve` (through app.ts) and every operator command agree on them. It
// sits beside app.ts, not in a domain folder: like app.ts it composes several folders and decides nothing.
import type { Config } from './config/schema.ts'
import { connectDatabase, type Database } from './db/connect.ts'
import { migrateUp, waitForMigrations } from './db/migrations.ts'
import { masterKeys } from './keys/master-key.ts'
import { KeyRing } from './keys/ring.ts'
import { type Clock, systemClock } from './lib/clock.ts'
import { createLog, type Log } from './observability/log.ts'

export interface Services {
  readonly config: Config
  readonly database: Database
  readonly db: Database['db']
  readonly clock: Clock
  readonly log: Log
  /** MANDATE_ISSUER, or http://localhost:<port> in development. */
  readonly issuer: string
  /** The master keys that seal signing keys (MANDATE_MASTER_KEY). */
  readonly keys: readonly Buffer[]
  /** The one key ring, not loaded yet: whoever needs its keys calls refresh(). */
  readonly ring: KeyRing
  /** Closes the database when these services opened it. */
  close(): Promise<void>
}

export interface ServicesOptions {
  clock?: Clock
  /** Operator commands log to stderr; the server to stdout at MANDATE_LOG_LEVEL. */
  log?: Log
  /** An already-open database (tests, `mandate serve`), left open by close(); otherwise one is opened. */
  database?: Database
  /** Postgres application_name of an opened database ('mandate' when not given). */
  applicationName?: string
  /**
   * What opening does about MANDATE_MIGRATE. 'serve' (default): auto applies pending migrations, check
   * waits until they are applied, off assumes them. 'command': auto applies them the same way; check and
   * off assume them, so an operator command never hangs waiting for someone's `mandate migrate up`.
   * 'none': `mandate migrate up|status`, which are about the schema themselves.
   */
  migrations?: 'serve' | 'command' | 'none'
}

/** The one way a database is opened from the configuration. */
export function openDatabase(config: Config, log: Log, applicationName?: string): Promise<Database> {
  return connectDatabase(applicationName ? { ...config, applicationName } : config, log)
}

export async function openServices(config: Config, options: ServicesOptions = {}): Promise<Services> {
  const clock = options.clock ?? systemClock
  const log = options.log ?? createLog(config.logLevel)
  const database = options.database ?? (await openDatabase(config, log, options.applicationName))
  const close = async () => {
    if (!options.database) await database.close()
  }
  try {
    await prepareSchema(database, config.migrate, options.migrations ?? 'serve', log)
  } catch (error) {
    await close()
    throw error
  }

  // Read on first use: a command that seals and signs nothing must not generate a development master key
  // (embedded mode) nor warn about one.
  let keys: Buffer[] | undefined
  let ring: KeyRing | undefined
  const sealing = () => {
    keys ??= masterKeys(config, log)
    return keys
  }
  return {
    config,
    database,
    db: database.db,
    clock,
    log,
    issuer: config.issuer ?? `http://localhost:${config.port}`,
    get keys() {
      return sealing()
    },
    get ring() {
      // A retired key stays published past its last token's expiry by the leeway verifiers allow plus the
      // time another process may take to see a new key (its refresh interval).
      ring ??= new KeyRing({
        db: database.db,
        masterKeys: sealing(),
        clock,
        grace: config.clockTolerance + config.keys.refreshInterval,
        log,
      })
      return ring
    },
    close,
  }
}

async function prepareSchema(
  database: Database,
  mode: Config['migrate'],
  migrations: NonNullable<ServicesOptions['migrations']>,
  log: Log,
): Promise<void> {
  if (migrations === 'none') return
  if (mode === 'auto') {
    const applied = await database.unbounded(migrateUp)
    if (applied.length > 0) log.info({ migrations: applied }, 'migrations applied')
  } else if (mode === 'check' && migrations === 'serve') {
    await waitForMigrations(database.db, log)
  }
}
