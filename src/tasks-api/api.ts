// The tasks API on the public port: create a task from a person's token, read it, complete it.
// Clients authenticate exactly as at the token endpoint; refusals use OAuth error bodies.
import { randomUUID } from 'node:crypto'
import type { Context, Next } from 'koa'
import type { Kysely } from 'kysely'
import { writeAudit } from '../audit/write.ts'
import { type AuthenticateDeps, authenticateClient, ClientAuthError } from '../clients/authenticate.ts'
import { ADMIN_SCOPE } from '../clients/schema.ts'
import { TOKEN_EXCHANGE, TOKEN_TYPES } from '../oauth/protocol.ts'
import type { ClientRow } from '../clients/store.ts'
import type { DB } from '../db/schema.ts'
import { BodyError, readParams } from '../http/body.ts'
import { renderHttpError } from '../http/errors.ts'
import { HttpError } from '../http/http-error.ts'
import type { Route } from '../http/routes.ts'
import { toDate } from '../lib/clock.ts'
import { safeDecode } from '../lib/safe-decode.ts'
import { holderProblem, subjectSourceProblem } from '../delegation/chain.ts'
import { Denied } from '../delegation/denied.ts'
import { loadEffectivePolicy } from '../delegation/load-policy.ts'
import { type TokenDeps, type VerifiedSubject, verifySubject } from '../delegation/subject-token.ts'
import { loadTaskFacts } from '../delegation/task-facts.ts'
import { claimProof } from '../dpop/claim.ts'
import { type DpopProof, DpopProblem } from '../dpop/proof.ts'
import { type DpopSettings, readDpopProof } from '../dpop/read-proof.ts'
import { TOKEN_INVALID } from '../oauth/descriptions.ts'
import type { EffectivePolicy } from '../policy/effective.ts'
import { findResourceByUri, type ResourceRow } from '../resources/store.ts'
import { taskAccessProblem } from '../tasks/access.ts'
import { capTask } from '../tasks/cap.ts'
import { completeWithEffects } from '../tasks/complete.ts'
import { isTaskOutcome, type TaskOutcome } from '../tasks/outcome.ts'
import { presentTask } from '../tasks/present.ts'
import { findTask, insertTask, lockLiveTasks, type TaskRow, tokenCounts } from '../tasks/store.ts'

export interface TasksApiDeps extends TokenDeps {
  db: Kysely<DB>
  replayUnique: AuthenticateDeps['replayUnique']
  dpop: DpopSettings
  log: { info(fields: object, msg: string): void }
  /** Within the completion's transaction: writes the revocation events to push (the outbox). */
  enqueueCompleted(trx: Kysely<DB>, task: TaskRow, outcome: TaskOutcome, revokedJtis: string[]): Promise<number>
  /** After the completion committed: deliver the events now, in the background (never awaited). */
  afterCompleted(): void
}

const invalidRequest = (description: string) => new HttpError('invalid_request', description)
const invalidToken = () => invalidRequest(TOKEN_INVALID)

export function tasksApi(deps: TasksApiDeps) {
  return async function tasks(ctx: Context, next: Next): Promise<void> {
    const route = matchRoute(ctx)
    if (!route) return next()
    ctx.set('Cache-Control', 'no-store')
    try {
      const params = paramsOf(ctx)
      const client = await authenticate(ctx, params, deps)
      ctx.state.clientId = client.client_id
      if (route.name === 'create') return await create(ctx, client, params, deps)
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

async function authenticate(ctx: Context, params: Record<string, unknown>, deps: TasksApiDeps): Promise<ClientRow> {
  const auth: AuthenticateDeps = {
    ...deps,
    audiences: [deps.issuer, `${deps.issuer}/token`, `${deps.issuer}${ctx.path}`],
  }
  try {
    return await authenticateClient(ctx.get('authorization') || undefined, params, auth)
  } catch (error) {
    if (error instanceof ClientAuthError)
      throw error.error === 'invalid_client' ? new HttpError('invalid_client') : invalidRequest(error.message)
    throw error
  }
}

const single = (value: unknown, name: string): string | undefined => {
  if (value === undefined) return undefined
  if (Array.isArray(value)) throw invalidRequest(`'${name}' parameter must not be provided twice`)
  if (typeof value !== 'string') throw invalidRequest(`'${name}' parameter must be a string`)
  return value
}
const many = (value: unknown): string[] =>
  (Array.isArray(value) ? value : value === undefined ? [] : [value]).map(String)

async function create(
  ctx: Context,
  client: ClientRow,
  params: Record<string, unknown>,
  deps: TasksApiDeps,
): Promise<void> {
  const now = deps.clock.now()
  const purpose = single(params.purpose, 'purpose')
  if (!purpose || purpose.trim().length === 0 || purpose.length > 1000)
    throw invalidRequest('purpose is required (1 to 1000 characters)')
  const subjectToken = single(params.subject_token, 'subject_token')
  const subjectType = single(params.subject_token_type, 'subject_token_type')
  // RFC 8693 §3: the same subject token types as at the token endpoint; any other is a token problem.
  if (!subjectToken || !subjectType || !TOKEN_TYPES.has(subjectType)) throw invalidToken()
  const resources = [...new Set(many(params.resource))]
  if (resources.length === 0) throw new HttpError('invalid_target')
  const scopeParam =
    Array.isArray(params.scope) && ctx.is('application/json') ? params.scope.join(' ') : single(params.scope, 'scope')
  const scope = scopeParam?.split(' ').filter(Boolean)
  // A JSON body may send expires_in as a number; a form body always sends text.
  const expiresText =
    typeof params.expires_in === 'number' ? String(params.expires_in) : single(params.expires_in, 'expires_in')
  if (expiresText !== undefined && !/^[1-9]\d{0,9}$/.test(expiresText))
    throw invalidRequest('expires_in must be a positive number of seconds')
  const parentId = single(params.parent_task_id, 'parent_task_id')
  if (!client.grant_types.includes(TOKEN_EXCHANGE)) {
    throw new HttpError('unauthorized_client')
  }

  // Every resource must be bound, for this client, to a token-exchange policy path.
  const targets: Array<{ resource: ResourceRow; policy: EffectivePolicy }> = []
  for (const uri of resources) {
    const resource = await findResourceByUri(deps.db, uri)
    const policy = resource && (await loadEffectivePolicy(deps.db, client.client_id, uri, TOKEN_EXCHANGE))
    if (!resource || !policy) throw new HttpError('invalid_target')
    targets.push({ resource, policy })
  }

  let subject: VerifiedSubject
  try {
    subject = await verifySubject(subjectToken, subjectType, deps)
  } catch (error) {
    if (error instanceof Denied) throw invalidToken()
    throw error
  }
  // As at the exchange: which subject tokens the path accepts, and whose token it is (chain.ts).
  const acceptable = targets.every(
    ({ policy }) =>
      subjectSourceProblem(policy, subject.facts) === undefined &&
      holderProblem(policy, subject.facts, [client.client_id]) === undefined,
  )
  if (!acceptable) throw invalidToken()
  // RFC 9449 §7: a DPoP-bound subject token is presented with a proof of its key.
  const proof = await readProof(ctx, deps)
  if (subject.facts.jkt !== undefined && subject.facts.jkt !== proof?.jkt) throw invalidToken()

  // A subtask: its client works on the parent task for this subject, as its agent or a sub-agent it delegated to.
  const parentFacts = parentId === undefined ? undefined : await loadTaskFacts(deps.db, parentId, client.client_id, now)
  const parent = parentFacts?.row
  const parentProblem =
    parentFacts &&
    taskAccessProblem({
      ...parentFacts,
      subject: {
        sub: subject.facts.sub,
        origin: subject.origin,
        act: subject.facts.act,
        taskPath: subject.row?.task_path ?? [],
      },
      actor: client.client_id,
    })
  if (parentProblem) throw invalidToken()

  const capped = capTask(
    { resources, ...(scope ? { scope } : {}), ...(expiresText ? { expiresIn: Number(expiresText) } : {}) },
    {
      now,
      subject: { ...(subject.facts.scope ? { scope: subject.facts.scope } : {}), expiresAt: subject.facts.expiresAt },
      clientScopes: client.scopes,
      resources: targets.map(({ resource, policy }) => ({
        uri: resource.uri,
        catalogue: resource.scopes,
        ...(policy.scopes ? { ceiling: policy.scopes } : {}),
        ...(policy.task.maxLifetime ? { maxLifetime: policy.task.maxLifetime } : {}),
      })),
      ...(parent
        ? {
            parent: {
              resources: parent.resources,
              scope: parent.scope,
              expiresAt: Math.floor(parent.expires_at.getTime() / 1000),
            },
          }
        : {}),
    },
  )
  if (!capped.ok) throw capped.error === 'invalid_request' ? invalidToken() : new HttpError(capped.error)

  const taskId = randomUUID()
  const task: TaskRow = {
    task_id: taskId,
    client_id: client.client_id,
    delegator: subject.facts.sub,
    delegator_issuer: subject.origin,
    purpose,
    resources,
    scope: capped.scope,
    policy_paths: [...new Set(targets.map((t) => t.policy.path))],
    parent_task_id: parent?.task_id ?? null,
    task_path: [...(parent?.task_path ?? []), taskId],
    created_at: toDate(now),
    expires_at: toDate(capped.expiresAt),
    completed_at: null,
    outcome: null,
    request_id: (ctx.state.reqId as string | undefined) ?? null,
  }
  await deps.db.transaction().execute(async (trx) => {
    // RFC 9449 §11.1: the proof is spent with the task it created.
    if (proof && !(await claimProof(trx, client.client_id, proof, now))) throw new HttpError('dpop_proof_reused')
    // The parent completing meanwhile: hold its path until commit, so this subtask is created either
    // before the completion (which then completes it too) or not at all.
    if (parent && (await lockLiveTasks(trx, parent.task_path, toDate(now)))) throw invalidToken()
    await insertTask(trx, task)
    await writeAudit(
      trx,
      {
        type: 'task.created',
        at: now,
        actor: client.client_id,
        requestId: task.request_id,
        subject: task.delegator,
        taskId,
        data: { purpose, resources, scope: capped.scope, parent_task_id: task.parent_task_id },
      },
      deps.log,
    )
  })
  ctx.status = 201
  ctx.body = presentTask(task, toDate(now))
}

/** RFC 9449 §4.3: the request's DPoP proof, if any, for this URL (built from the issuer, not the Host). */
async function readProof(ctx: Context, deps: TasksApiDeps): Promise<DpopProof | undefined> {
  try {
    return await readDpopProof(ctx, { url: `${deps.issuer}${ctx.path}`, now: deps.clock.now() }, deps.dpop)
  } catch (error) {
    if (!(error instanceof DpopProblem)) throw error
    throw new HttpError(error.kind === 'invalid' ? 'invalid_dpop_proof' : 'use_dpop_nonce')
  }
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
