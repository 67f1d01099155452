// URLs this server builds come from MANDATE_ISSUER, never from the request's Host (or X-Forwarded-Host, or
// an absolute request target): oidc-provider derives discovery URLs, accepted client-assertion audiences
// (RFC 7523 §3) and DPoP htu (RFC 9449 §4.3) from ctx.href, so the request's view of its own origin is
// pinned to the issuer's before the provider runs.
import type { Context, Next } from 'koa'

export function pinOrigin(issuer: string) {
  const url = new URL(issuer)
  return async function pinnedOrigin(ctx: Context, next: Next): Promise<void> {
    const target = ctx.originalUrl
    Object.defineProperties(ctx.request, {
      origin: { value: url.origin },
      href: { value: url.origin + (target.startsWith('/') ? target : pathOf(target)) },
      host: { value: url.host },
      hostname: { value: url.hostname },
      protocol: { value: url.protocol.slice(0, -1) },
    })
    await next()
  }
}

/** The path and query of an absolute-form request target (RFC 9112 §3.2.2). */
function pathOf(target: string): string {
  try {
    const { pathname, search } = new URL(target)
    return pathname + search
  } catch {
    return '/'
  }
}
