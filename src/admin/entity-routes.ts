// The HTTP edge of clients, resources, issuers and users on the admin API (entities.ts decides): list, read
// (with its ETag), PUT, DELETE, and the :disable, :enable and :rotate-secret actions. Refusals of changes are
// RFC 9457 problem documents; an unknown entity read is the admin API's JSON 404.
import type { Context } from 'koa'
import { bodyParams } from '../http/body-params.ts'
import { HttpError } from '../http/http-error.ts'
import type { Route } from '../http/routes.ts'
import { safeDecode } from '../lib/safe-decode.ts'
import {
  deleteEntity,
  type EntityDeps,
  listEntities,
  type Outcome,
  putEntity,
  readEntity,
  rotateClientSecret,
  switchEntity,
} from './entities.ts'
import type { EntityKind } from './entity-kinds.ts'
import { problem } from './problem.ts'

const PATH = /^\/admin\/v1\/(clients|resources|issuers|users)(?:\/([^/]+))?$/

/** One route for the four kinds: the handler answers which method goes with which path (405 otherwise). */
export const ENTITY_ROUTES: readonly Route[] = [{ path: PATH, methods: ['GET', 'PUT', 'DELETE', 'POST'] }]

/** Answers the request if it is one of these routes; false otherwise. */
export async function entityRoute(ctx: Context, deps: EntityDeps): Promise<boolean> {
  const match = PATH.exec(ctx.path)
  if (!match) return false
  const kind = match[1] as EntityKind
  const method = ctx.method === 'HEAD' ? 'GET' : ctx.method
  if (match[2] === undefined) {
    if (method !== 'GET') return notAllowed(ctx, 'GET, HEAD')
    ctx.body = { [kind]: await listEntities(deps.db, kind) }
    return true
  }
  const id = safeDecode(match[2])
  const actor = `admin:${ctx.state.clientId as string}`
  const self = ctx.state.clientId as string
  const ifMatch = ctx.get('If-Match') || undefined

  if (method === 'POST') {
    const action = /^(.+):(disable|enable|rotate-secret)$/.exec(id)
    const [, target = '', verb] = action ?? []
    const switchable = (kind === 'clients' || kind === 'users') && (verb === 'disable' || verb === 'enable')
    if (!switchable && !(kind === 'clients' && verb === 'rotate-secret')) throw new HttpError('not_found', 'route')
    const params = body(ctx, '{reason}')
    if (!params) return true
    const outcome =
      verb === 'rotate-secret'
        ? await rotateClientSecret(deps, target, { actor, reason: params.reason })
        : await switchEntity(deps, kind as 'clients' | 'users', target, {
            actor,
            reason: params.reason,
            disabled: verb === 'disable',
            self,
          })
    return answer(ctx, outcome)
  }
  if (method === 'GET') {
    const found = await readEntity(deps.db, kind, id)
    if (!found) throw new HttpError('not_found', kind.slice(0, -1))
    // RFC 9110 §8.8.3: the content hash is the entity tag, for If-Match on the change that follows.
    ctx.set('ETag', `"${found.etag}"`)
    ctx.body = found.document
    return true
  }
  if (method === 'PUT') {
    const params = body(ctx, '{document, reason}')
    if (!params) return true
    const { document, reason, confidential } = params
    return answer(ctx, await putEntity(deps, kind, id, { actor, reason, document, confidential, ifMatch, self }))
  }
  if (method === 'DELETE') {
    const params = body(ctx, '{reason}')
    if (!params) return true
    return answer(ctx, await deleteEntity(deps, kind, id, { actor, reason: params.reason, ifMatch, self }))
  }
  return notAllowed(ctx, 'GET, HEAD, PUT, DELETE')
}

/** The JSON object body, or undefined once a 400 problem is answered. */
function body(ctx: Context, shape: string): Record<string, unknown> | undefined {
  const { params, problem: malformed } = bodyParams(ctx)
  if (!malformed && ctx.is('application/json')) return params
  problem(ctx, 400, 'Bad request', `the body is a JSON object: ${shape}`)
  return undefined
}

function answer(ctx: Context, outcome: Outcome): true {
  if (!outcome.ok) {
    const { status, title, detail, findings } = outcome.problem
    problem(ctx, status, title, detail, findings)
    return true
  }
  ctx.status = outcome.status
  if (outcome.etag) ctx.set('ETag', `"${outcome.etag}"`)
  ctx.body = outcome.body
  return true
}

function notAllowed(ctx: Context, allow: string): true {
  ctx.status = 405
  ctx.set('Allow', allow)
  ctx.body = { error: 'method_not_allowed', error_description: 'the request method is not allowed here' }
  return true
}
