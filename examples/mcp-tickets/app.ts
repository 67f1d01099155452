// The MCP endpoint on node:http: Streamable HTTP in its simplest form (MCP transports, 2025-06-18 and
// later), one JSON-RPC message per POST /mcp answered with one JSON body, no SSE stream, no session. The
// RFC 9728 metadata is public; every other request is authenticated by mandate/resource-server first.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Reply, ResourceServer } from 'mandate/resource-server'
import type { Answer } from './call-tool.ts'
import { failure, INTERNAL_ERROR, INVALID_REQUEST, readMessage } from './json-rpc.ts'
import { answer, PROTOCOL_VERSIONS } from './methods.ts'
import type { TicketStore } from './tickets.ts'
import { toolNamed } from './tools.ts'

export interface McpTicketsDeps {
  rs: ResourceServer
  store: TicketStore
  /** Where clients reach this server: the only Origin a browser page may call it from. */
  origin: string
  onError?: (error: unknown) => void
}

const MAX_BODY = 64 * 1024

export function mcpTickets(deps: McpTicketsDeps) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    handle(deps, req).then(
      (reply) => send(res, reply),
      (error: unknown) => {
        deps.onError?.(error)
        send(res, { status: 500, body: failure(null, { code: INTERNAL_ERROR, message: 'internal error' }) })
      },
    )
  }
}

async function handle({ rs, store, origin }: McpTicketsDeps, req: IncomingMessage): Promise<Answer | Reply> {
  const request = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers }
  const metadata = rs.metadataReply(request)
  if (metadata) return metadata
  if (URL.parse(request.url, origin)?.pathname !== '/mcp') return { status: 404, headers: {} }
  // MCP transports §Security: a page of another origin must not reach a local server (DNS rebinding).
  if (req.headers.origin !== undefined && req.headers.origin !== origin)
    return { status: 403, body: failure(null, { code: INVALID_REQUEST, message: 'this Origin may not call' }) }
  // No SSE stream to GET and no session to DELETE: the transport's answer is 405.
  if (request.method !== 'POST') return { status: 405, headers: { allow: 'POST' } }
  const body = await readBody(req)
  if (body === undefined) return { status: 413, headers: {} }
  const read = readMessage(body)
  // A tool's scope is checked with the token itself (RFC 6750 §3.1 insufficient_scope, MCP step-up).
  const { message } = read.ok ? read : { message: undefined }
  const tool =
    message?.kind === 'request' && message.method === 'tools/call' ? toolNamed(message.params.name) : undefined
  const auth = await rs.authenticate(request, tool?.scope)
  if (!auth.ok) return auth.reply
  const version = req.headers['mcp-protocol-version']
  if (version !== undefined && !(PROTOCOL_VERSIONS as readonly string[]).includes(String(version)))
    return { status: 400, body: failure(null, { code: INVALID_REQUEST, message: 'unsupported MCP-Protocol-Version' }) }
  if (!read.ok) return { status: 400, body: failure(read.id, read.error) }
  // A notification or a response expects no answer: 202 Accepted, no body.
  if (read.message.kind !== 'request') return { status: 202, headers: {} }
  return answer(read.message, { rs, store, auth })
}

/** The body, or undefined past MAX_BODY (read to its end all the same, so the 413 reaches the client). */
async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size <= MAX_BODY) chunks.push(chunk)
  }
  return size <= MAX_BODY ? Buffer.concat(chunks).toString('utf8') : undefined
}

/** Our JSON-RPC answer, or a reply the helper built (its body, if any, already JSON). */
function send(res: ServerResponse, reply: Answer | Reply): void {
  const json = typeof reply.body === 'object'
  res.writeHead(reply.status, {
    ...(json ? { 'content-type': 'application/json', 'cache-control': 'no-store' } : {}),
    ...reply.headers,
  })
  res.end(json ? JSON.stringify(reply.body) : reply.body)
}
