// express adapter, written against node:http's own request and response (express's extend them), so
// it also serves a plain node:http server. Leaves the verified token in req.mandate.
import type { Guarded, ResourceServer } from '../resource-server.ts'
import type { MiddlewareOptions } from './adapter.ts'
import type { Reply } from './reply.ts'

export interface NodeLikeRequest {
  method?: string | undefined
  /** express: the URL before router mounting rewrote req.url. */
  originalUrl?: string
  url?: string | undefined
  headers: Record<string, string | string[] | undefined>
  mandate?: Guarded
}

export interface NodeLikeResponse {
  statusCode: number
  setHeader(name: string, value: string): unknown
  end(body?: string): unknown
}

export function expressMiddleware<Q extends NodeLikeRequest>(rs: ResourceServer, options: MiddlewareOptions<Q> = {}) {
  return (req: Q, res: NodeLikeResponse, next: (error?: unknown) => void): void => {
    handle(rs, options, req, res).then((passed) => passed && next(), next)
  }
}

/** True when the request goes on to the route; false when the reply was sent here. */
async function handle<Q extends NodeLikeRequest>(
  rs: ResourceServer,
  options: MiddlewareOptions<Q>,
  req: Q,
  res: NodeLikeResponse,
): Promise<boolean> {
  // Only the path and query are read: the origin is the resource's own (see RequestLike.url).
  const request = { method: req.method ?? 'GET', url: req.originalUrl ?? req.url ?? '/', headers: req.headers }
  const metadata = rs.metadataReply(request)
  if (metadata) return send(res, metadata)
  const guarded = await rs.guard(request, {
    ...(options.scope ? { scope: options.scope } : {}),
    sensitive: options.sensitive?.(req),
  })
  if (!guarded.ok) return send(res, guarded.reply)
  req.mandate = guarded
  return true
}

function send(res: NodeLikeResponse, reply: Reply): false {
  res.statusCode = reply.status
  for (const [name, value] of Object.entries(reply.headers)) res.setHeader(name, value)
  res.end(reply.body)
  return false
}
