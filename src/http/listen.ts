// Binds the three listeners and drains them on shutdown. The only place that opens ports.
import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type Koa from 'koa'
import type { Config } from '../config/schema.ts'

/**
 * An HTTP server that checks its timeouts every second (Node's default is every 30 s, which would let a
 * slow client hold a connection that long past the timeout).
 */
export function createHttpServer(handler: RequestListener): Server {
  const server = createServer({ connectionsCheckingInterval: 1000 }, handler)
  server.keepAliveTimeout = 5_000
  return server
}

/**
 * Slow clients are cut off: headers must arrive within headersTimeout (Node answers 408 and closes).
 * Bodies are timed by boundedBody, which answers 408 itself; requestTimeout is the backstop for a body
 * nobody reads.
 */
export function applyTimeouts(server: Server, http: Pick<Config['http'], 'headersTimeout' | 'bodyTimeout'>): void {
  server.headersTimeout = http.headersTimeout * 1000
  server.requestTimeout = (http.headersTimeout + http.bodyTimeout + 1) * 1000
}

export interface Listeners {
  ports: { public: number; admin: number; management: number }
  /** Stops accepting, lets in-flight requests finish (up to timeoutSeconds), then resolves. */
  close(timeoutSeconds: number): Promise<void>
}

export async function listen(
  apps: { public: Koa; admin: Koa; management: Koa },
  bind: { host: string; port: number; adminPort: number; managementPort: number; http: Config['http'] },
): Promise<Listeners> {
  // Handlers still running count as in flight even when their client hung up: the database must
  // outlive every one of them, or they would fail on a closed pool.
  let inFlight = 0
  let drained: (() => void) | undefined
  const start = (app: Koa, port: number) =>
    new Promise<Server>((resolve, reject) => {
      const handle = app.callback()
      const server = createHttpServer((req, res) => {
        inFlight++
        Promise.resolve(handle(req, res)).finally(() => {
          inFlight--
          if (inFlight === 0) drained?.()
        })
      })
      applyTimeouts(server, bind.http)
      server.once('error', reject)
      server.listen(port, bind.host, () => resolve(server))
    })
  const servers = {
    public: await start(apps.public, bind.port),
    admin: await start(apps.admin, bind.adminPort),
    management: await start(apps.management, bind.managementPort),
  }
  const portOf = (server: Server) => (server.address() as AddressInfo).port
  return {
    ports: { public: portOf(servers.public), admin: portOf(servers.admin), management: portOf(servers.management) },
    async close(timeoutSeconds) {
      const all = Object.values(servers)
      const closed = Promise.all(all.map((server) => new Promise((resolve) => server.close(resolve))))
      for (const server of all) server.closeIdleConnections()
      const idle = inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => (drained = resolve))
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          for (const server of all) server.closeAllConnections()
          resolve()
        }, timeoutSeconds * 1000)
      })
      await Promise.race([Promise.all([closed, idle]), timeout])
      clearTimeout(timer)
    },
  }
}
