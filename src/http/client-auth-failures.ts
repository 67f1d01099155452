// Failed client authentication writes nothing durable (an unauthenticated caller could otherwise fill the
// database): it is a counted metric and a sampled log line, at most one per endpoint per SAMPLE_SECONDS,
// carrying how many failures it stands for.
import type { Context, Next } from 'koa'
import type { Log } from '../observability/log.ts'
import type { Metrics } from '../observability/metrics.ts'
import { addressKey } from './address-key.ts'
import { bodyParams } from './body-params.ts'
import { claimedClientId } from './claimed-client.ts'
import { routePath } from './routes.ts'

export type AuthEndpoint = 'token' | 'introspection' | 'revocation' | 'tasks' | 'evaluation'

const SAMPLE_SECONDS = 10

/** The endpoint a request authenticates a client at, if any (matched as the router matches). */
export function authEndpoint(ctx: Context): AuthEndpoint | undefined {
  const path = routePath(ctx.path)
  if (path === '/token') return 'token'
  if (path === '/token/introspection') return 'introspection'
  if (path === '/token/revocation') return 'revocation'
  if (path === '/tasks' || path.startsWith('/tasks/')) return 'tasks'
  if (path === '/access/v1/evaluation' || path === '/access/v1/evaluations') return 'evaluation'
  return undefined
}

/** RFC 6749 §5.2: 401 invalid_client is the answer to failed (or missing) client authentication. */
export const isClientAuthFailure = (ctx: Context): boolean =>
  ctx.status === 401 && (ctx.body as { error?: unknown } | null)?.error === 'invalid_client'

export function countClientAuthFailures(deps: { metrics: Metrics; log: Log; now?: () => number }) {
  const now = deps.now ?? (() => performance.now() / 1000)
  const sampled = new Map<AuthEndpoint, { loggedAt: number; unlogged: number }>()
  return async function clientAuthFailures(ctx: Context, next: Next): Promise<void> {
    await next()
    const endpoint = authEndpoint(ctx)
    if (!endpoint || !isClientAuthFailure(ctx)) return
    deps.metrics.clientAuthFailures.inc({ endpoint })
    const at = now()
    const sample = sampled.get(endpoint) ?? { loggedAt: Number.NEGATIVE_INFINITY, unlogged: 0 }
    sample.unlogged++
    sampled.set(endpoint, sample)
    if (at - sample.loggedAt < SAMPLE_SECONDS) return
    deps.log.warn(
      {
        endpoint,
        failures: sample.unlogged,
        since_s: Number.isFinite(sample.loggedAt) ? Math.round(at - sample.loggedAt) : undefined,
        claimed_client_id: claimedClientId(ctx.get('authorization') || undefined, bodyParams(ctx).params),
        address: addressKey(ctx.ip),
        req_id: ctx.state.reqId,
      },
      'client authentication failed',
    )
    sample.loggedAt = at
    sample.unlogged = 0
  }
}
