// Outermost koa middleware of every listener: request id, one log line per request, duration
// metric, and Retry-After on 503 (RFC 9110 §10.2.3) so clients back off during outages.
import { randomUUID } from 'node:crypto'
import type { Context, Next } from 'koa'
import type { Log } from '../observability/log.ts'
import type { Metrics } from '../observability/metrics.ts'

export function observe(listener: string, deps: { log: Log; metrics: Metrics; route(ctx: Context): string }) {
  return async function observeRequest(ctx: Context, next: Next): Promise<void> {
    const started = process.hrtime.bigint()
    const reqId = randomUUID()
    ctx.state.reqId = reqId
    ctx.set('X-Request-Id', reqId)
    try {
      await next()
    } finally {
      if (ctx.status === 503) ctx.set('Retry-After', '5')
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      const route = deps.route(ctx)
      deps.metrics.requestDuration.observe(
        { http_request_method: ctx.method, http_route: route, http_response_status_code: String(ctx.status), listener },
        seconds,
      )
      const level = ctx.status >= 500 ? 'error' : listener === 'management' ? 'debug' : 'info'
      deps.log[level](
        {
          req_id: reqId,
          listener,
          method: ctx.method,
          route,
          status: ctx.status,
          duration_ms: Math.round(seconds * 1000),
          ...(ctx.state.clientId ? { client_id: ctx.state.clientId } : {}),
        },
        'request',
      )
    }
  }
}
