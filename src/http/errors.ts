// Errors that escape our own middleware (outside oidc-provider's handler) get one JSON envelope:
// outages are 503 temporarily_unavailable, anything else is a 500 with nothing internal exposed.
import type { Context, Next } from 'koa'
import { DatabaseUnavailable, DependencyUnavailable, isDatabaseUnavailable } from '../db/outage.ts'
import type { Log } from '../observability/log.ts'

export const unavailableBody = {
  error: 'temporarily_unavailable',
  error_description: 'the authorization server is temporarily unavailable, retry later',
}

export function jsonErrors(log: Log) {
  return async function renderErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next()
    } catch (error) {
      const unavailable =
        error instanceof DatabaseUnavailable ||
        error instanceof DependencyUnavailable ||
        isDatabaseUnavailable(error) ||
        (error as { error?: string }).error === 'temporarily_unavailable'
      ctx.set('Cache-Control', 'no-store')
      if (unavailable) {
        log.warn({ err: error, req_id: ctx.state.reqId }, 'database unavailable')
        ctx.status = 503
        ctx.body = unavailableBody
        return
      }
      log.error({ err: error, req_id: ctx.state.reqId }, 'unhandled error')
      ctx.status = 500
      ctx.body = { error: 'server_error', error_description: 'an unexpected error occurred' }
    }
  }
}
