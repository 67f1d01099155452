// Every error that escapes our own middleware (outside oidc-provider's handler) is answered here, in one
// JSON envelope: an HttpError as its EDGE_ERRORS entry says, an outage as 503 temporarily_unavailable, and
// anything else as a 500 with nothing internal exposed.
import type { Context, Next } from 'koa'
import { isOutage } from '../db/outage.ts'
import type { Log } from '../observability/log.ts'
import { HttpError } from './http-error.ts'

export function jsonErrors(log: Log) {
  return async function renderErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next()
    } catch (error) {
      if (error instanceof HttpError) return renderHttpError(ctx, error)
      // oidc-provider's own 503 (TemporarilyUnavailable) can reach here from its middleware stack too.
      const unavailable = isOutage(error) || (error as { error?: string } | null)?.error === 'temporarily_unavailable'
      if (unavailable) {
        log.warn({ err: error, req_id: ctx.state.reqId }, 'database unavailable')
        return renderHttpError(ctx, new HttpError('temporarily_unavailable'))
      }
      log.error({ err: error, req_id: ctx.state.reqId }, 'unhandled error')
      renderHttpError(ctx, new HttpError('server_error'))
    }
  }
}

/** RFC 6749 §5.1/§5.2: an error answer is never cached. */
export function renderHttpError(ctx: Context, problem: HttpError): void {
  ctx.status = problem.status
  for (const [name, value] of Object.entries(problem.headers))
    ctx.set(name, typeof value === 'string' ? value : [...value])
  ctx.set('Cache-Control', 'no-store')
  ctx.body = problem.body
}
