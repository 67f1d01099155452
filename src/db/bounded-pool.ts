// The pg pool as kysely sees it, made safe for a database that stalls or vanishes. pg emits 'error' on
// a client whose socket dies, and the pool listens only while the client is idle: a client checked out
// by a query or a transaction would end the process (an unheard 'error' event throws). Every client
// here is heard for its whole life. A query that outlives the client-side timeout has its socket
// destroyed, so the transaction's rollback and the next borrower never queue behind a stalled round trip.
// Statements run prepared under a name (statement-names.ts), so a connection parses and plans each once.
import type { PostgresPool, PostgresPoolClient } from 'kysely'
import pg from 'pg'
import { sessionBounds } from './bounds.ts'
import { type StatementNames, statementNames } from './statement-names.ts'

export interface BoundedPoolOptions {
  url: string
  size: number
  applicationName: string
  /** Seconds: the bound of every wait (see sessionBounds). */
  timeout: number
  /** Distinct SQL texts prepared under a name; beyond it, new texts run unnamed. */
  preparedStatements?: number
}

/** Well above the texts Mandate sends (about 110 in one test process running every route), still small. */
const PREPARED_STATEMENTS = 500

export interface PoolLog {
  warn(fields: object, msg: string): void
}

export function boundedPool(options: BoundedPoolOptions, log: PoolLog): PostgresPool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.size,
    application_name: options.applicationName,
    ...sessionBounds(options.timeout),
  })
  hearEveryClient(pool, log)
  const names = statementNames(options.preparedStatements ?? PREPARED_STATEMENTS, (limit) =>
    log.warn({ limit }, 'prepared statement names all taken; new SQL texts run unnamed (a text built from data?)'),
  )
  const guarded = new WeakMap<pg.PoolClient, PostgresPoolClient>()
  return {
    options: pool.options,
    async connect() {
      const client = await pool.connect()
      const known = guarded.get(client)
      if (known) return known
      const wrapped = guard(client, names)
      guarded.set(client, wrapped)
      return wrapped
    },
    end: () => pool.end(),
  }
}

/** Every client of the pool has an 'error' listener from its first connection to its end. */
export function hearEveryClient(pool: pg.Pool, log: PoolLog): void {
  pool.on('connect', (client) => {
    client.on('error', (error) => log.warn({ err: error }, 'database connection lost'))
  })
  // The idle-client 'error' arrives at the pool too, after the client's own listener logged it.
  pool.on('error', () => {})
}

function guard(client: pg.PoolClient, names: StatementNames): PostgresPoolClient {
  // Set when this connection's prepared statements may be stale: it runs unnamed until it leaves the pool.
  let stale = false
  return {
    get processID() {
      return (client as { processID?: number }).processID
    },
    async query(text: string, parameters: ReadonlyArray<unknown>) {
      const values = [...parameters]
      const name = stale ? undefined : names.nameOf(text)
      // Read before the statement runs: its own failure would turn 'T' into 'E'.
      const autocommit = client.getTransactionStatus() === 'I'
      try {
        if (name === undefined) return await client.query(text, values)
        try {
          return await client.query({ name, text, values })
        } catch (error) {
          if (!isStalePlan(error)) throw error
          stale = true
          // Inside a transaction the failure already aborted it: the caller's own handling applies.
          if (!autocommit) throw error
          return await client.query(text, values)
        }
      } catch (error) {
        // pg reports its timeout but leaves the query on the socket, and every later query behind it.
        if (error instanceof Error && error.message === 'Query read timeout') client.connection.stream.destroy()
        throw error
      }
    },
    // pool.connect() replaces client.release on every checkout: look it up at each call.
    release: (destroy?: boolean) => client.release(destroy || stale),
  } as unknown as PostgresPoolClient // kysely's other overload (cursors) is never used: no `cursor` in the dialect
}

/**
 * A migration changed the columns a prepared statement returns (a `select *` after `add column`): Postgres
 * refuses to run its cached plan (SQLSTATE 0A000) on every execution until the statement is re-prepared.
 * Nothing ran, so outside a transaction the statement is safely run again, unnamed.
 */
const isStalePlan = (error: unknown): boolean =>
  error instanceof Error &&
  (error as { code?: unknown }).code === '0A000' &&
  /cached plan must not change result type/.test(error.message)
