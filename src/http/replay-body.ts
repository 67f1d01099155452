// Hands downstream readers (oidc-provider's body parser, our own) a fresh request stream holding a body
// already read, so a body is received once and every reader still reads a stream.
import { Readable } from 'node:stream'
import type { Context } from 'koa'

export function replayBody(ctx: Context, bytes: Buffer): void {
  const original = ctx.req
  const { 'transfer-encoding': _chunked, ...headers } = original.headers
  const replacement = Object.assign(Readable.from([bytes]), {
    headers: { ...headers, 'content-length': String(bytes.length) },
    method: original.method,
    url: original.url,
    httpVersion: original.httpVersion,
    socket: original.socket,
    connection: original.socket,
  })
  ctx.req = replacement as unknown as Context['req']
  ctx.request.req = ctx.req
}
