// RFC 6749 §5.1/§5.2: token responses and errors must not be cached. Every POST answer and every
// error on the public port gets Cache-Control: no-store unless a handler chose a policy itself.
import type { Context, Next } from 'koa'

export async function noStore(ctx: Context, next: Next): Promise<void> {
  await next()
  if (!ctx.response.get('Cache-Control') && (ctx.method === 'POST' || ctx.status >= 400)) {
    ctx.set('Cache-Control', 'no-store')
  }
}
