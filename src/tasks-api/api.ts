// The tasks API on the public port: create a task from a person's token, read it, complete it.
// Clients authenticate exactly as at the token endpoint; refusals use OAuth error bodies.
import type { Context, Next } from 'koa'
import type { Kysely } from 'kysely'
import type { AuthenticateDeps } from '../clients/authenticate.ts'
import { ADMIN_SCOPE } from '../clients/schema.ts'
import type { CatalogSource } from '../catalog/source.ts'
import type { ClientRow } from '../clients/store.ts'
import type { DB } from '../db/schema.ts'
import { authenticateAtEdge } from '../http/authenticate-client.ts'
import { BodyError, readParams } from '../http/body.ts'
import { renderHttpError } from '../http/errors.ts'
import { HttpError } from '../http/http-error.ts'
import type { Route } from '../http/routes.ts'
import { toDate } from '../lib/clock.ts'
import { safeDecode } from '../lib/safe-decode.ts'
import { createTask } from './create.ts'
import { invalidRequest, single } from './params.ts'
import type { TokenDeps } from '../delegation/subject-token.ts'
import type { DpopSettings } from '../dpop/read-proof.ts'
import { completeWithEffects } from '../tasks/complete.ts'
import { isTaskOutcome, type TaskOutcome } from '../tasks/outcome.ts'
import { presentTask } from '../tasks/present.ts'
import { findTask, type TaskRow, tokenCounts } from '../tasks/store.ts'

export interface TasksApiDeps extends TokenDeps {
  db: Kysely<DB>
  /** The configuration of the request's generation (clients, resources, policies). */
  catalog: CatalogSource
  replayUnique: AuthenticateDeps['replayUnique']
  dpop: DpopSettings
  log: { info(fields: object, msg: string): void }
  /** Within the completion's transaction: writes the revocation events to push (the outbox). */
  enqueueCompleted(trx: Kysely<DB>, task: TaskRow, outcome: TaskOutcome, revokedJtis: string[]): Promise<number>
  /** After the completion committed: deliver the events now, in the background (never awaited). */
  afterCompleted(): void
}

export function tasksApi(deps: TasksApiDeps) {
  return async function tasks(ctx: Context, next: Next): Promise<void> {
    const route = matchRoute(ctx)
    if (!route) return next()
    ctx.set('Cache-Control', 'no-store')
    try {
      const params = paramsOf(ctx)
      const client = await authenticateAtEdge(ctx, params, deps)
      ctx.state.clientId = client.client_id
      if (route.name === 'create') return await createTask(ctx, client, params, deps)
      const task = await findTask(deps.db, route.taskId)
      // Only the task's own agent (or an admin) learns that it exists.
      if (!task || (task.client_id !== client.client_id && !client.scopes.includes(ADMIN_SCOPE)))
        throw new HttpError('not_found', 'task')
      if (route.name === 'show') return await show(ctx, task, deps)
      return await complete(ctx, client, task, params, deps)
    } catch (error) {
      // Rendered here, not by jsonErrors further out: the client-auth failure count and the rate limits
      // between them read the answer this request got.
      if (!(error instanceof HttpError)) throw error
      renderHttpError(ctx, error)
    }
  }
}

/** The paths and methods this API serves (for the public port's route guard). */
export const TASKS_ROUTES: readonly Route[] = [
  { path: '/tasks', methods: ['POST'] },
  { path: /^\/tasks\/[^/]+$/, methods: ['GET'] },
  { path: /^\/tasks\/[^/]+\/complete$/, methods: ['POST'] },
]

/** The request's parameters; a body we cannot read is the client's invalid_request. */
function paramsOf(ctx: Context): Record<string, unknown> {
  try {
    return readParams(ctx)
  } catch (error) {
    throw error instanceof BodyError ? invalidRequest(error.message) : error
  }
}

type TasksRoute = { name: 'create' } | { name: 'show' | 'complete'; taskId: string }

function matchRoute(ctx: Context): TasksRoute | undefined {
  if (ctx.path === '/tasks' && ctx.method === 'POST') return { name: 'create' }
  const match = /^\/tasks\/([^/]+)(\/complete)?$/.exec(ctx.path)
  if (!match) return undefined
  const taskId = safeDecode(match[1] as string)
  if (match[2] && ctx.method === 'POST') return { name: 'complete', taskId }
  if (!match[2] && ctx.method === 'GET') return { name: 'show', taskId }
  return undefined
}

async function show(ctx: Context, task: TaskRow, deps: TasksApiDeps): Promise<void> {
  const now = toDate(deps.clock.now())
  const counts = await tokenCounts(deps.db, task.task_id, now)
  ctx.body = { ...presentTask(task, now, { detailed: true }), tokens: counts }
}

async function complete(
  ctx: Context,
  client: ClientRow,
  task: TaskRow,
  params: Record<string, unknown>,
  deps: TasksApiDeps,
): Promise<void> {
  const outcome = single(params.outcome, 'outcome') ?? 'succeeded'
  if (!isTaskOutcome(outcome)) throw invalidRequest('outcome must be succeeded, failed or cancelled')
  const now = deps.clock.now()
  const result = await completeWithEffects(deps, task, {
    outcome,
    now,
    actor: client.client_id,
    requestId: (ctx.state.reqId as string | undefined) ?? null,
  })
  const current = (await findTask(deps.db, task.task_id)) as TaskRow
  if (result.completedNow) deps.afterCompleted()
  ctx.body = { ...presentTask(current, toDate(now), { detailed: true }), revoked_tokens: result.revoked }
}
