// A TCP proxy in front of Postgres that a test controls, to stall the database without Docker:
// pause (stop forwarding both ways, keep every socket open), drop (destroy every socket, as a
// crashed or failed-over server does), refuse (drop, and refuse new connections until resumed).
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net'
import { afterAll, beforeAll } from 'vitest'
import { connectDatabase, type Database } from '../../src/db/connect.ts'
import type { TestDatabase } from './database.ts'

export interface TcpProxy {
  readonly port: number
  /** The same URL with host and port pointing at the proxy. */
  url(target: string): string
  /** Stops forwarding in both directions; sockets stay open, new ones are accepted and held. */
  pause(): void
  /** Destroys every open socket (both sides); new connections are still accepted. */
  drop(): void
  /** Drops every socket and refuses new connections until resume(). */
  refuse(): void
  /** Forwards again (what a pause held flows on) and accepts connections again. */
  resume(): void
  /** How many client connections are open now. */
  open(): number
  close(): Promise<void>
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>()
  let paused = false
  let refusing = false

  const server: Server = createServer((client) => {
    if (refusing) {
      client.destroy()
      return
    }
    const upstream = connect(target.port, target.host)
    const pair: [Socket, Socket] = [client, upstream]
    pairs.add(pair)
    const forget = () => {
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    for (const socket of pair) {
      socket.on('error', forget)
      socket.on('close', forget)
      if (paused) socket.pause()
    }
    // Forwarded by hand, not piped: pipe() resumes a source on 'drain', which would undo a pause.
    client.on('data', (chunk) => upstream.write(chunk))
    upstream.on('data', (chunk) => client.write(chunk))
    client.on('end', () => upstream.end())
    upstream.on('end', () => client.end())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  const drop = () => {
    for (const pair of [...pairs]) for (const socket of pair) socket.destroy()
    pairs.clear()
  }
  return {
    port,
    url(targetUrl) {
      const parsed = new URL(targetUrl)
      parsed.hostname = '127.0.0.1'
      parsed.port = String(port)
      return parsed.href
    },
    pause() {
      paused = true
      for (const pair of pairs) for (const socket of pair) socket.pause()
    },
    drop,
    refuse() {
      refusing = true
      drop()
    },
    resume() {
      paused = false
      refusing = false
      for (const pair of pairs) for (const socket of pair) socket.resume()
    },
    open: () => pairs.size,
    async close() {
      refusing = true
      drop()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

/**
 * This file's database again, reached through a TCP proxy the test controls, opened as the server
 * opens it (bounded pool, LISTEN connection) with MANDATE_DATABASE_TIMEOUT = timeout seconds. Hand it
 * to useServer; keep `t` for reads and writes the stall must not touch.
 */
export function useStallableDatabase(
  t: TestDatabase,
  options: { timeout: number; poolSize?: number },
): TestDatabase & { readonly proxy: TcpProxy } {
  let proxy: TcpProxy | undefined
  let database: Database | undefined
  beforeAll(async () => {
    if (!t.url) return
    const target = new URL(t.url)
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) })
    database = await connectDatabase(
      {
        databaseUrl: proxy.url(t.url),
        databasePoolSize: options.poolSize ?? 8,
        dataDir: '.',
        databaseTimeout: options.timeout,
      },
      { warn: () => {}, info: () => {} },
    )
  })
  afterAll(async () => {
    proxy?.resume()
    await database?.close()
    await proxy?.close()
  })
  const get = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('useStallableDatabase(): only on Postgres, inside tests and hooks')
    return value
  }
  return {
    get database() {
      return get(database)
    },
    get db() {
      return get(database).db
    },
    get proxy() {
      return get(proxy)
    },
    get url() {
      return proxy && t.url ? proxy.url(t.url) : undefined
    },
    isPostgres: t.isPostgres,
  }
}
