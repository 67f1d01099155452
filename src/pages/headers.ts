// Headers of every page Mandate renders. The Content-Security-Policy allows no script at all and styles
// only from our own stylesheet; the page cannot be framed (clickjacking of Allow: RFC 6819 §4.4.1.9) and
// is never cached (it carries a CSRF token and a person's details). Referrer-Policy is same-origin, not
// no-referrer: under no-referrer a browser posts our own forms with `Origin: null` (Fetch Standard,
// "serializing a request origin"), which the forms' origin check refuses; no other site gets a Referer.
import type { Context } from 'koa'

export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'"

export function setPageHeaders(ctx: Pick<Context, 'set' | 'type'>): void {
  ctx.type = 'text/html; charset=utf-8'
  ctx.set('Content-Security-Policy', CONTENT_SECURITY_POLICY)
  ctx.set('X-Frame-Options', 'DENY')
  ctx.set('X-Content-Type-Options', 'nosniff')
  ctx.set('Referrer-Policy', 'same-origin')
  ctx.set('Cache-Control', 'no-store')
}
