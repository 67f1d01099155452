// Per-process rate limits on the endpoints that authenticate clients (RFC 6585 §4: 429 + Retry-After).
// Checked before authentication, so a refused attempt costs no secret hash and no signature check:
//  - failed client authentications per source address and per claimed client id;
//  - requests per claimed client id.
// In memory on purpose (no database round trip on the hot path): with N processes behind a balancer the
// cluster admits up to N times each limit. The claimed id is read unverified (claimed-client.ts).
import type { Context, Next } from 'koa'
import type { Config } from '../config/schema.ts'
import type { Metrics } from '../observability/metrics.ts'
import { addressKey } from './address-key.ts'
import { bodyParams } from './body-params.ts'
import { claimedClientId } from './claimed-client.ts'
import { authEndpoint, isClientAuthFailure } from './client-auth-failures.ts'
import { TokenBuckets } from './token-buckets.ts'

export type Limit = 'failed_auth_address' | 'failed_auth_client' | 'requests_client'

export const RATE_LIMITED = {
  error: 'temporarily_unavailable',
  error_description: 'too many requests, retry after the time in Retry-After',
}

export function rateLimits(deps: { limits: Config['rateLimits']; metrics: Metrics; now?: () => number }) {
  const { limits } = deps
  const now = deps.now ?? (() => performance.now() / 1000)
  const buckets = (perWindow: number) =>
    new TokenBuckets({ capacity: perWindow, perSecond: perWindow / limits.window, maxKeys: limits.maxTracked })
  const failedByAddress = buckets(limits.failedAuthPerAddress)
  const failedByClient = buckets(limits.failedAuthPerClient)
  const requestsByClient = buckets(limits.requestsPerClient)

  return async function limitRate(ctx: Context, next: Next): Promise<void> {
    if (!limits.enabled || !authEndpoint(ctx)) return next()
    const address = addressKey(ctx.ip)
    const client = claimedClientId(ctx.get('authorization') || undefined, bodyParams(ctx).params)
    const at = now()
    const waits: Array<[Limit, number]> = [
      ['failed_auth_address', failedByAddress.waitSeconds(address, at)],
      ['failed_auth_client', client ? failedByClient.waitSeconds(client, at) : 0],
      ['requests_client', client ? requestsByClient.waitSeconds(client, at) : 0],
    ]
    const [limit, wait] = waits.reduce((longest, entry) => (entry[1] > longest[1] ? entry : longest))
    if (wait > 0) {
      deps.metrics.rateLimited.inc({ limit })
      ctx.status = 429
      ctx.set('Retry-After', String(Math.max(1, Math.ceil(wait))))
      ctx.body = RATE_LIMITED
      return
    }
    if (client) requestsByClient.spend(client, at)
    // Every attempt reserves a failure before it is authenticated and gets it back if it did not fail:
    // a concurrent burst of guesses is then bounded by the bucket too, not only the requests after it.
    failedByAddress.spend(address, at)
    if (client) failedByClient.spend(client, at)
    try {
      await next()
    } finally {
      if (!isClientAuthFailure(ctx)) {
        failedByAddress.refund(address, now())
        if (client) failedByClient.refund(client, now())
      }
    }
  }
}
