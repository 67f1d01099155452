// Each listener answers only the routes it serves: any other path is a JSON 404, a served path with the
// wrong method a JSON 405 with Allow (RFC 9110 §15.5.6), before anything of the request is used.
import type { Context, Next } from 'koa'

export interface Route {
  /** An exact path, or a pattern for paths with parameters. */
  path: string | RegExp
  methods: readonly string[]
}

/**
 * The path as oidc-provider's router matches it: ASCII case folded, one trailing slash dropped. Matching
 * the same way keeps this guard (and the rate limits) from missing a path the router would serve.
 */
export const routePath = (path: string): string =>
  (path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path).toLowerCase()

export function servedRoutes(routes: readonly Route[]) {
  return async function onlyServedRoutes(ctx: Context, next: Next): Promise<void> {
    const path = routePath(ctx.path)
    const route = routes.find((r) => (typeof r.path === 'string' ? r.path === path : r.path.test(path)))
    if (!route) return notFound(ctx)
    const methods = route.methods.includes('GET') ? [...route.methods, 'HEAD'] : route.methods
    if (!methods.includes(ctx.method)) {
      ctx.status = 405
      ctx.set('Allow', methods.join(', '))
      ctx.set('Cache-Control', 'no-store')
      ctx.body = { error: 'method_not_allowed', error_description: 'the request method is not allowed here' }
      return
    }
    await next()
    // Whatever a served path still leaves unanswered gets the same JSON 404.
    if (ctx.status === 404 && ctx.body == null) notFound(ctx)
  }
}

function notFound(ctx: Context): void {
  ctx.status = 404
  ctx.set('Cache-Control', 'no-store')
  ctx.body = { error: 'not_found', error_description: 'no such endpoint' }
}
