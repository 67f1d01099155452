// POST /tasks: a task from a person's token, for resources each bound for this client to a token-exchange
// policy path. The subject token is verified and accepted by the exchange's own rules (delegation/), a
// parent task by the same task-access rule as the exchange (tasks/access.ts); scope and lifetime are
// capped by tasks/cap.ts.
import { randomUUID } from 'node:crypto'
import type { Context } from 'koa'
import { writeAudit } from '../audit/write.ts'
import { TOKEN_EXCHANGE, TOKEN_TYPES } from '../oauth/protocol.ts'
import type { ClientRow } from '../clients/store.ts'
import { HttpError } from '../http/http-error.ts'
import { toDate } from '../lib/clock.ts'
import { holderProblem, subjectSourceProblem } from '../delegation/chain.ts'
import { Denied } from '../delegation/denied.ts'
import { loadEffectivePolicy } from '../delegation/load-policy.ts'
import { type VerifiedSubject, verifySubject } from '../delegation/subject-token.ts'
import { loadTaskFacts } from '../delegation/task-facts.ts'
import { claimProof } from '../dpop/claim.ts'
import { type DpopProof, DpopProblem } from '../dpop/proof.ts'
import { readDpopProof } from '../dpop/read-proof.ts'
import type { EffectivePolicy } from '../policy/effective.ts'
import type { ResourceRow } from '../resources/store.ts'
import { taskAccessProblem } from '../tasks/access.ts'
import { capTask } from '../tasks/cap.ts'
import { checkIntent } from '../tasks/intent.ts'
import { presentTask } from '../tasks/present.ts'
import { insertTask, lockLiveTasks, type TaskRow } from '../tasks/store.ts'
import type { TasksApiDeps } from './api.ts'
import { invalidRequest, invalidToken, many, single } from './params.ts'

export async function createTask(
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
  const declared = declaredActions(params.actions, ctx.is('application/json') === 'application/json')
  if (!client.grant_types.includes(TOKEN_EXCHANGE)) {
    throw new HttpError('unauthorized_client')
  }

  // Every resource must be bound, for this client, to a token-exchange policy path.
  const catalog = await deps.catalog.current()
  const targets: Array<{ resource: ResourceRow; policy: EffectivePolicy }> = []
  for (const uri of resources) {
    const resource = catalog.resourceByUri(uri)
    const policy = resource && loadEffectivePolicy(catalog, client.client_id, uri, TOKEN_EXCHANGE)
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
  const parentFacts =
    parentId === undefined ? undefined : await loadTaskFacts(deps.db, catalog, parentId, client.client_id, now)
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
  const intent = checkIntent(
    declared,
    targets.map(({ policy }) => policy.actions),
    parent?.actions ?? null,
  )
  if (!intent.ok) throw invalidRequest(intent.detail)

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
    actions: intent.actions,
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
        data: {
          purpose,
          resources,
          scope: capped.scope,
          parent_task_id: task.parent_task_id,
          ...(task.actions ? { actions: task.actions } : {}),
        },
      },
      deps.log,
    )
  })
  ctx.status = 201
  ctx.body = presentTask(task, toDate(now))
}

/** `actions`: a JSON array of names, or in a form body space-separated (as scope) and/or repeated. */
function declaredActions(value: unknown, json: boolean): string[] | undefined {
  if (value === undefined) return undefined
  if (json && !(Array.isArray(value) && value.every((entry) => typeof entry === 'string')))
    throw invalidRequest('actions must be an array of action names')
  return many(value).flatMap((entry) => entry.split(' ').filter(Boolean))
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
