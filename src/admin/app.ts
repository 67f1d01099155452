// The admin listener. Admin endpoints require an admin bearer token; until a route exists for a
// request, it answers 401 like any unauthenticated admin call (nothing is revealed about routes).
import Koa from 'koa'

export function adminApp(): Koa {
  const app = new Koa()
  app.use((ctx) => {
    ctx.status = 401
    ctx.set('WWW-Authenticate', 'Bearer realm="mandate-admin"')
    ctx.set('Cache-Control', 'no-store')
    ctx.body = { error: 'invalid_token', error_description: 'admin authentication is required' }
  })
  return app
}
