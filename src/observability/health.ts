// The management listener: liveness (the event loop answers), readiness (database reachable,
// migrations current, a signing key usable, not shutting down) and Prometheus metrics.
import Koa from 'koa'
import type { Metrics } from './metrics.ts'

export interface Check {
  name: string
  status: 'UP' | 'DOWN'
  data?: Record<string, unknown>
}

export interface HealthDeps {
  metrics: Metrics
  readiness(): Promise<Check[]>
}

/** The management routes, for the listener's route guard (an http/routes.ts Route each). */
export const MANAGEMENT_ROUTES = ['/health/live', '/health/ready', '/metrics'].map((path) => ({
  path,
  methods: ['GET'] as const,
}))

export function managementApp(deps: HealthDeps): Koa {
  const app = new Koa()
  app.use(async (ctx, next) => {
    switch (ctx.path) {
      case '/health/live':
        ctx.body = { status: 'UP', checks: [] }
        return
      case '/health/ready': {
        const checks = await deps.readiness()
        const up = checks.every((check) => check.status === 'UP')
        ctx.status = up ? 200 : 503
        ctx.body = { status: up ? 'UP' : 'DOWN', checks }
        return
      }
      case '/metrics':
        ctx.type = deps.metrics.registry.contentType
        ctx.body = await deps.metrics.registry.metrics()
        return
      default:
        return next()
    }
  })
  return app
}
