// Binds the three listeners and drains them on shutdown. The only place that opens ports.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type Koa from 'koa'

export interface Listeners {
  ports: { public: number; admin: number; management: number }
  /** Stops accepting, lets in-flight requests finish (up to timeoutSeconds), then resolves. */
  close(timeoutSeconds: number): Promise<void>
}

export async function listen(
  apps: { public: Koa; admin: Koa; management: Koa },
  bind: { host: string; port: number; adminPort: number; managementPort: number },
): Promise<Listeners> {
  const start = (app: Koa, port: number) =>
    new Promise<Server>((resolve, reject) => {
      const server = createServer(app.callback())
      server.keepAliveTimeout = 5_000
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
      const timer = setTimeout(() => {
        for (const server of all) server.closeAllConnections()
      }, timeoutSeconds * 1000)
      await closed
      clearTimeout(timer)
    },
  }
}
