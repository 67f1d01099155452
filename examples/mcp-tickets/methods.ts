// The MCP methods this server speaks: initialize (version negotiation), ping, tools/list and tools/call.
// Stateless: nothing is remembered between requests, so there is no session to start or end.
import { type Answer, type CallContext, callTool } from './call-tool.ts'
import { failure, type Id, METHOD_NOT_FOUND, result } from './json-rpc.ts'
import { describeTool, TOOLS } from './tools.ts'

/** MCP revisions this server speaks, newest first; neither has JSON-RPC batches. */
export const PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18'] as const

export async function answer(
  request: { id: Id; method: string; params: Record<string, unknown> },
  context: CallContext,
): Promise<Answer> {
  const { id, method, params } = request
  switch (method) {
    case 'initialize':
      return { status: 200, body: result(id, initialized(params.protocolVersion)) }
    case 'ping':
      return { status: 200, body: result(id, {}) }
    case 'tools/list':
      return { status: 200, body: result(id, { tools: TOOLS.map(describeTool) }) }
    case 'tools/call':
      return callTool(id, params, context)
    default:
      return { status: 200, body: failure(id, { code: METHOD_NOT_FOUND, message: `no method ${method}` }) }
  }
}

// MCP lifecycle §Version negotiation: the client's version when we speak it, else our newest.
const initialized = (asked: unknown) => ({
  protocolVersion: PROTOCOL_VERSIONS.find((version) => version === asked) ?? PROTOCOL_VERSIONS[0],
  capabilities: { tools: { listChanged: false } },
  serverInfo: { name: 'mcp-tickets', title: 'Tickets (a Mandate example)', version: '0.1.0' },
  instructions: 'Every call is decided by Mandate for your task: a refusal carries its reason code and decision id.',
})
