// The pg pool as kysely sees it, made safe for a database that stalls or vanishes. pg emits 'error' on
// a client whose socket dies, and the pool listens only while the client is idle: a client checked out
// by a query or a transaction would end the process (an unheard 'error' event throws). Every client
// here is heard for its whole life. A query that outlives the client-side timeout has its socket
// destroyed, so the transaction's rollback and the next borrower never queue behind a stalled round trip.
import type { PostgresPool, PostgresPoolClient } from 'kysely'
import pg from 'pg'
import { sessionBounds } from './bounds.ts'

export interface BoundedPoolOptions {
  url: string
  size: number
  applicationName: string
  /** Seconds: the bound of every wait (see sessionBounds). */
  timeout: number
}

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
  const guarded = new WeakMap<pg.PoolClient, PostgresPoolClient>()
  return {
    options: pool.options,
    async connect() {
      const client = await pool.connect()
      const known = guarded.get(client)
      if (known) return known
      const wrapped = guard(client)
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

function guard(client: pg.PoolClient): PostgresPoolClient {
  return {
    get processID() {
      return (client as { processID?: number }).processID
    },
    async query(text: string, parameters: ReadonlyArray<unknown>) {
      try {
        return await client.query(text, [...parameters])
      } catch (error) {
        // pg reports its timeout but leaves the query on the socket, and every later query behind it.
        if (error instanceof Error && error.message === 'Query read timeout') client.connection.stream.destroy()
        throw error
      }
    },
    // pool.connect() replaces client.release on every checkout: look it up at each call.
    release: (destroy?: boolean) => client.release(destroy),
  } as unknown as PostgresPoolClient // kysely's other overload (cursors) is never used: no `cursor` in the dialect
}
