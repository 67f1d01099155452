// Starts the example: the tickets store, the resource-server helper for this resource, and the MCP
// endpoint on a node:http server. The helper is built once the port is known, since it names the origin.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mandateResourceServer } from 'mandate/resource-server'
import { mcpTickets } from './app.ts'
import type { McpTicketsConfig } from './config.ts'
import type { TicketStore } from './tickets.ts'

export interface Serving {
  server: Server
  /** The MCP endpoint on the bound address, e.g. http://127.0.0.1:8080/mcp. */
  endpoint: string
  origin: string
}

export async function serveMcpTickets(
  config: McpTicketsConfig,
  store: TicketStore,
  onError: (error: unknown) => void = (error) => console.error('mcp-tickets:', error),
): Promise<Serving> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve))
  const { port } = server.address() as AddressInfo
  const origin = config.origin ?? `http://localhost:${port}`
  const rs = mandateResourceServer({
    issuer: config.issuer,
    resource: config.resource,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    resourceName: 'Tickets (MCP)',
    scopesSupported: ['tickets:read', 'tickets:write'],
    origin,
    onError,
  })
  server.on('request', mcpTickets({ rs, store, origin, onError }))
  return { server, endpoint: `http://${config.host}:${port}/mcp`, origin }
}
