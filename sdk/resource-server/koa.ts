// koa adapter: serves the RFC 9728 metadata, guards every other request, and leaves the verified
// token (and any evaluation) in ctx.state.mandate. Structural types only: no koa import at run time.
import type { Guarded, ResourceServer } from '../resource-server.ts'
import type { MiddlewareOptions } from './adapter.ts'
import type { Reply } from './reply.ts'

/** The part of koa's Context the adapter reads and writes. */
export interface KoaLikeContext {
  method: string
  /** protocol://host/originalUrl: only its path and query are read. */
  href: string
  headers: Record<string, string | string[] | undefined>
  status: number
  body: unknown
  set(field: string, value: string): void
  // biome-ignore lint/suspicious/noExplicitAny: koa types state as any; the adapter adds one member.
  state: any
}

export function koaMiddleware<C extends KoaLikeContext>(rs: ResourceServer, options: MiddlewareOptions<C> = {}) {
  return async function mandateResourceServer(ctx: C, next: () => Promise<unknown>): Promise<void> {
    const request = { method: ctx.method, url: ctx.href, headers: ctx.headers }
    const metadata = rs.metadataReply(request)
    if (metadata) return send(ctx, metadata)
    const guarded: Guarded = await rs.guard(request, {
      ...(options.scope ? { scope: options.scope } : {}),
      sensitive: options.sensitive?.(ctx),
    })
    if (!guarded.ok) return send(ctx, guarded.reply)
    ctx.state.mandate = guarded
    await next()
  }
}

function send(ctx: KoaLikeContext, reply: Reply): void {
  ctx.status = reply.status
  for (const [name, value] of Object.entries(reply.headers)) ctx.set(name, value)
  // koa turns a null body into 204; an empty string keeps the status (RFC 6750 §3.1's bare challenge).
  ctx.body = reply.body ?? ''
}
