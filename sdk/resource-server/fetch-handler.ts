// fetch adapter: wraps a (request: Request) => Response handler (Deno, Bun, Cloudflare, Next.js route
// handlers, node with a fetch bridge); the handler gets the verified token as its second argument.
import type { ResourceServer } from '../resource-server.ts'
import type { MiddlewareOptions } from './adapter.ts'
import type { Authenticated } from './authenticate.ts'
import type { Evaluation } from './evaluation.ts'
import type { Reply } from './reply.ts'

export type GuardedHandler = (
  request: Request,
  auth: Authenticated & { evaluation?: Evaluation },
) => Response | Promise<Response>

export function fetchHandler(
  rs: ResourceServer,
  handler: GuardedHandler,
  options: MiddlewareOptions<Request> = {},
): (request: Request) => Promise<Response> {
  return async (request) => {
    const like = { method: request.method, url: request.url, headers: request.headers }
    const metadata = rs.metadataReply(like)
    if (metadata) return toResponse(metadata)
    const guarded = await rs.guard(like, {
      ...(options.scope ? { scope: options.scope } : {}),
      sensitive: options.sensitive?.(request),
    })
    return guarded.ok ? handler(request, guarded) : toResponse(guarded.reply)
  }
}

const toResponse = (reply: Reply): Response =>
  new Response(reply.body ?? null, { status: reply.status, headers: reply.headers })
