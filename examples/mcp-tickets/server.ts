// An MCP-style tickets server guarded by Mandate (examples/mcp-tickets/README.md). Run it beside `npm start`:
//   node --conditions=mandate-source examples/mcp-tickets/server.ts
import { configFromEnv } from './config.ts'
import { serveMcpTickets } from './serve.ts'
import { ticketStore } from './tickets.ts'

const config = configFromEnv(process.env)
const { endpoint } = await serveMcpTickets(config, ticketStore())
console.log(`mcp-tickets: MCP endpoint ${endpoint}, resource ${config.resource}, Mandate at ${config.issuer}`)
