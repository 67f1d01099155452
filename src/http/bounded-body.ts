// Every request body is read here, once, before any endpoint sees it, bounded in size and in time: a
// declared oversized body is refused unread (413), a longer chunked one is cut at the limit (413), and
// one that trickles in is cut after the body timeout (408). Each refusal closes the connection.
import type { Context, Next } from 'koa'
import { replayBody } from './replay-body.ts'

/** oidc-provider's own limit for urlencoded bodies; no request of ours needs more. */
export const MAX_BODY_BYTES = 56 * 1024

type Refusal = 'too_large' | 'timeout' | 'aborted'
type Read = { kind: 'body'; body: Buffer } | { kind: Refusal }

const refusals: Record<Refusal, [status: number, description: string]> = {
  too_large: [413, 'request body is too large'],
  timeout: [408, 'request body was not received in time'],
  // The client went away mid-body: nobody reads this answer, but the log shows a 400, not a 500.
  aborted: [400, 'request body was not received'],
}

const buffered = new WeakMap<Context, Buffer>()

/** The body this request sent, once boundedBody has read it. */
export const bufferedBody = (ctx: Context): Buffer | undefined => buffered.get(ctx)

export function boundedBody(options: { bodyTimeout: number }) {
  return async function boundBody(ctx: Context, next: Next): Promise<void> {
    const { headers } = ctx.req
    if (headers['transfer-encoding'] === undefined && !Number(headers['content-length'])) return next()
    // RFC 9110 §15.5.14: refused from its Content-Length alone, before a byte of it is read.
    if (Number(headers['content-length']) > MAX_BODY_BYTES) return refuse(ctx, 'too_large')
    const read = await readWithin(ctx.req, MAX_BODY_BYTES, options.bodyTimeout * 1000)
    if (read.kind !== 'body') return refuse(ctx, read.kind)
    buffered.set(ctx, read.body)
    replayBody(ctx, read.body)
    await next()
  }
}

function refuse(ctx: Context, refusal: Refusal): void {
  const [status, description] = refusals[refusal]
  ctx.status = status
  ctx.body = { error: 'invalid_request', error_description: description }
  ctx.set('Cache-Control', 'no-store')
  // The rest of the body is discarded as it arrives, and Node closes the connection after this answer.
  ctx.set('Connection', 'close')
  ctx.req.resume()
}

function readWithin(req: Context['req'], limit: number, timeoutMs: number): Promise<Read> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    let settled = false
    const finish = (read: Read) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onAborted)
      req.off('close', onAborted)
      resolve(read)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) return finish({ kind: 'too_large' })
      chunks.push(chunk)
    }
    const onEnd = () => finish({ kind: 'body', body: Buffer.concat(chunks, size) })
    const onAborted = () => finish({ kind: 'aborted' })
    const timer = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs)
    req.on('data', onData)
    req.once('end', onEnd)
    req.once('error', onAborted)
    req.once('close', onAborted)
  })
}
