// Resource servers built on the mandate/resource-server helper, on real sockets: a koa app guarded by
// its middleware, and the bare servers a helper can meet on the way to Mandate (refusing, answering 503).
import { createServer, type RequestListener, type Server } from 'node:http'
import { createServer as createTcpServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import Koa from 'koa'
import type { MiddlewareOptions } from '../../sdk/resource-server/adapter.ts'
import { koaMiddleware, type ResourceServer } from '../../sdk/resource-server.ts'

export interface Running {
  url: string
  close(): Promise<void>
}

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<Running> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      if ('closeAllConnections' in server) server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

/** A koa resource server: every route answers 200 with what the helper verified (ctx.state.mandate). */
export function serveKoa(rs: ResourceServer, options: MiddlewareOptions<Koa.Context> = {}): Promise<Running> {
  const app = new Koa()
  app.use(koaMiddleware(rs, options))
  app.use((ctx) => {
    const { claims, scheme, scopes, evaluation } = ctx.state.mandate
    ctx.body = { claims, scheme, scopes, ...(evaluation ? { evaluation } : {}) }
  })
  return listen(createServer(app.callback()))
}

export const serveNode = (listener: RequestListener): Promise<Running> => listen(createServer(listener))

/** A port that accepts and at once drops every connection: the network failing under a call. */
export const serveDropping = (): Promise<Running> => listen(createTcpServer((socket) => socket.destroy()))
