// Runtime authorization on the public port (docs/runtime-authorization.md): the AuthZEN evaluation endpoints
// and metadata for resource servers, and /approvals/{id} for the people whose agents ask to act.
import type { Context, Next } from 'koa'
import type { CatalogSource } from '../catalog/source.ts'
import type { EvaluationDeps } from '../evaluation/evaluate.ts'
import { type EdgeAuthDeps, authenticateAtEdge } from '../http/authenticate-client.ts'
import { BodyError, readParams } from '../http/body.ts'
import { renderHttpError } from '../http/errors.ts'
import { HttpError } from '../http/http-error.ts'
import type { Route } from '../http/routes.ts'
import { isUuid } from '../lib/uuid.ts'
import { safeDecode } from '../lib/safe-decode.ts'
import { type ApprovalsDeps, handleApproval } from './approvals.ts'
import { handleEvaluations } from './evaluations.ts'
import { pdpMetadata } from './metadata.ts'

export interface AccessApiDeps extends EdgeAuthDeps, Omit<EvaluationDeps, 'ring'>, Omit<ApprovalsDeps, 'ring'> {
  catalog: CatalogSource
  ring: EvaluationDeps['ring'] & ApprovalsDeps['ring']
}

export const ACCESS_ROUTES: readonly Route[] = [
  { path: '/access/v1/evaluation', methods: ['POST'] },
  { path: '/access/v1/evaluations', methods: ['POST'] },
  { path: '/.well-known/authzen-configuration', methods: ['GET'] },
  { path: /^\/approvals\/[^/]+$/, methods: ['GET', 'POST'] },
]

type AccessRoute = { name: 'evaluation' | 'evaluations' | 'metadata' } | { name: 'approval'; id: string }

// AuthZEN (HTTPS binding): a PEP's X-Request-ID is echoed; a value we would not log is ignored.
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/

export function accessApi(deps: AccessApiDeps) {
  return async function access(ctx: Context, next: Next): Promise<void> {
    const route = matchRoute(ctx)
    if (!route) return next()
    const requestId = ctx.get('x-request-id')
    if (REQUEST_ID.test(requestId)) ctx.set('X-Request-ID', requestId)
    if (route.name === 'metadata') {
      ctx.set('Cache-Control', 'public, max-age=300')
      ctx.body = pdpMetadata(deps.issuer)
      return
    }
    ctx.set('Cache-Control', 'no-store')
    try {
      const params = paramsOf(ctx)
      if (route.name === 'approval') {
        // Any id that is not one of ours is answered as an approval that does not exist, after the token check.
        return await handleApproval(
          ctx,
          isUuid(route.id) ? route.id : '00000000-0000-0000-0000-000000000000',
          params,
          deps,
        )
      }
      if (!ctx.is('application/json')) throw new HttpError('invalid_request', 'request body must be application/json')
      const caller = await authenticateAtEdge(ctx, params, deps)
      ctx.state.clientId = caller.client_id
      await handleEvaluations(ctx, caller, params, route.name === 'evaluations', deps)
    } catch (error) {
      if (!(error instanceof HttpError)) throw error
      renderHttpError(ctx, error)
    }
  }
}

function matchRoute(ctx: Context): AccessRoute | undefined {
  if (ctx.method === 'POST' && ctx.path === '/access/v1/evaluation') return { name: 'evaluation' }
  if (ctx.method === 'POST' && ctx.path === '/access/v1/evaluations') return { name: 'evaluations' }
  if ((ctx.method === 'GET' || ctx.method === 'HEAD') && ctx.path === '/.well-known/authzen-configuration')
    return { name: 'metadata' }
  const approval = /^\/approvals\/([^/]+)$/.exec(ctx.path)
  if (approval && (ctx.method === 'GET' || ctx.method === 'POST'))
    return { name: 'approval', id: safeDecode(approval[1] as string) }
  return undefined
}

function paramsOf(ctx: Context): Record<string, unknown> {
  try {
    return readParams(ctx)
  } catch (error) {
    throw error instanceof BodyError ? new HttpError('invalid_request', error.message) : error
  }
}
