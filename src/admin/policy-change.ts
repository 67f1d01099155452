// `PUT /admin/v1/policy-paths/{name}` (issue 13): a new version of a path, only as the admin meant it —
// valid (the same checks as `apply`), against the version they read (If-Match, RFC 9110 §13.1.1), with a
// reason, and, when it broadens what the path lets through, only once they confirmed it. Refusals are RFC
// 9457 problem details carrying the findings; nothing is written for any of them. Re-creating a retired path
// is a change against nothing: everything it lets through is a broadening to confirm; so is creating a path
// above paths in force.
import type { Context } from 'koa'
import type { Kysely } from 'kysely'
import { writeAudit } from '../audit/write.ts'
import type { DB } from '../db/schema.ts'
import { bodyParams } from '../http/body-params.ts'
import { type Clock, toDate } from '../lib/clock.ts'
import { type Change, diffDocuments } from '../policy/diff.ts'
import { planPolicyPath } from '../policy/plan-apply.ts'
import { PolicyPathDocument } from '../policy/schema.ts'
import { currentDocument, liveDescendants, lockPathAndAncestors } from '../policy/store.ts'
import { policyPathVersion } from './policy-paths.ts'
import { problem } from './problem.ts'

export interface PolicyChangeDeps {
  db: Kysely<DB>
  clock: Clock
  validateDocuments(text: string): Promise<Array<{ severity: string }>>
}

export interface Finding {
  severity: string
  code: string
  message: string
  path: string
}

/**
 * `POST …/{name}/versions/{v}:activate`: a rollback is a change like any other — a new version whose content
 * equals version v, with If-Match, a reason, and a confirmation if going back broadens.
 */
export async function activatePolicyPathVersion(
  ctx: Context,
  deps: PolicyChangeDeps,
  name: string,
  version: number,
): Promise<void> {
  const { params, problem: malformed } = bodyParams(ctx)
  if (malformed || !ctx.is('application/json'))
    return problem(ctx, 400, 'Bad request', 'the body is a JSON object: {reason, confirmBroadening?}')
  const old = await policyPathVersion(deps.db, name, version)
  if (!old) return problem(ctx, 404, 'Not found', `policy path ${name} has no version ${version}`)
  return applyChange(ctx, deps, name, { ...params, document: old.document, via: `rollback to version ${version}` })
}

export async function changePolicyPath(ctx: Context, deps: PolicyChangeDeps, name: string): Promise<void> {
  const { params, problem: malformed } = bodyParams(ctx)
  if (malformed || !ctx.is('application/json'))
    return problem(ctx, 400, 'Bad request', 'the body is a JSON object: {document, reason, confirmBroadening?}')
  return applyChange(ctx, deps, name, { ...params, via: 'admin-api' })
}

/** What a change asks for, from the API (JSON body and If-Match) or the console (its form). */
export interface ChangeRequest {
  document: unknown
  reason: unknown
  confirmBroadening: unknown
  /** The If-Match value: `"<version>"`, or '' when none was sent. */
  ifMatch: string
  /** Who changes it, for the version's source and the audit trail: `admin:<client>` or `admin-person:<username>`. */
  admin: string
  /** How: `admin-api`, `admin-console`, `rollback to version N`. */
  via: string
}

export interface ChangeRefusal {
  status: 400 | 409 | 412 | 422 | 428
  title: string
  detail: string
  findings: Finding[]
}

export type ChangeOutcome =
  | { refused: ChangeRefusal }
  | { created: boolean; written: boolean; version: number; changes: Change[] }

const refusal = (status: ChangeRefusal['status'], title: string, detail: string, findings: Finding[] = []) => ({
  refused: { status, title, detail, findings },
})

async function applyChange(
  ctx: Context,
  deps: PolicyChangeDeps,
  name: string,
  params: Record<string, unknown> & { via: string },
): Promise<void> {
  const outcome = await changePolicyPathAs(deps, name, {
    document: params.document,
    reason: params.reason,
    confirmBroadening: params.confirmBroadening,
    ifMatch: ctx.get('If-Match'),
    admin: `admin:${ctx.state.clientId as string}`,
    via: params.via,
  })
  if ('refused' in outcome) {
    const { status, title, detail, findings } = outcome.refused
    return problem(ctx, status, title, detail, findings)
  }
  ctx.status = outcome.created ? 201 : 200
  ctx.set('ETag', `"${outcome.version}"`)
  ctx.body = { name, version: outcome.version, changed: outcome.written, changes: outcome.changes }
}

/**
 * The one change of a policy path, for the admin API and the console alike: the same validation, version
 * check, broadening confirmation, version source and audit event. Writes nothing when it refuses.
 */
export async function changePolicyPathAs(
  deps: PolicyChangeDeps,
  name: string,
  request: ChangeRequest,
): Promise<ChangeOutcome> {
  const { document, reason, confirmBroadening, ifMatch, admin, via } = request
  if (typeof reason !== 'string' || reason.trim() === '' || reason.length > 1000)
    return refusal(400, 'Bad request', 'reason is required: why this change (1 to 1000 characters)')
  if (confirmBroadening !== undefined && typeof confirmBroadening !== 'boolean')
    return refusal(400, 'Bad request', 'confirmBroadening is true or false')
  if (typeof document !== 'object' || document === null || Array.isArray(document))
    return refusal(400, 'Bad request', 'document is the PolicyPath document as a JSON object')

  // The same checks as apply, on the document as JSON (line and column are those of its pretty form).
  const findings = (await deps.validateDocuments(JSON.stringify(document, null, 2))) as Finding[]
  const errors = findings.filter((f) => f.severity === 'error')
  if (errors.length > 0) return refusal(422, 'Invalid document', 'the document has errors', errors)
  const parsed = PolicyPathDocument.safeParse(document)
  if (!parsed.success) return refusal(422, 'Invalid document', 'the document is not a PolicyPath')
  const doc = parsed.data
  if (doc.metadata.name !== name)
    return refusal(422, 'Invalid document', `metadata.name must be ${name}, the path of this URL`, [
      {
        severity: 'error',
        code: 'name_mismatch',
        message: `metadata.name is ${doc.metadata.name}`,
        path: '/metadata/name',
      },
    ])

  return deps.db.transaction().execute(async (trx): Promise<ChangeOutcome> => {
    await lockPathAndAncestors(trx, name)
    // The latest version, and the path in force (none when it is retired: then this re-creates it).
    const latest = await currentDocument(trx, name)
    const current = latest && !latest.retired ? latest : undefined
    if (current && !ifMatch)
      return refusal(
        428,
        'Precondition required',
        'If-Match with the version you read is required to change an existing path',
      )
    // RFC 9110 §13.1.1: no tag matches a path that never existed (not even one spelling "undefined").
    if (ifMatch && (!latest || ifMatch !== `"${latest.version}"`))
      return refusal(
        412,
        'Precondition failed',
        `the path is at version ${latest?.version ?? 'none'}${latest?.retired ? ' (retired)' : ''}: read it again`,
      )
    const changes = diffDocuments(current?.document, doc)
    const broadening = changes.filter((change) => change.broadening)
    // A new path above paths in force is a new level of theirs: where they leave a field to its default
    // (our own tokens only, one actor deep, delegation only), its value applies to them, so it is confirmed too.
    const above = !latest && (await liveDescendants(trx, name)).length > 0
    if ((latest || above) && broadening.length > 0 && confirmBroadening !== true)
      return refusal(
        409,
        'Broadening not confirmed',
        'this change broadens what the path lets through: confirm with confirmBroadening: true',
        broadening.map((change) => ({
          severity: 'security_warning',
          code: 'broadening',
          message: change.text,
          path: change.field,
        })),
      )
    const planned = await planPolicyPath(trx, doc, { source: { kind: 'admin', admin }, reason })
    const written =
      planned.action === 'unchanged' ? { written: false } : await planned.write(trx, toDate(deps.clock.now()))
    const version = written.written ? ((written as { version?: number }).version ?? 0) : (current?.version ?? 0)
    if (written.written)
      await writeAudit(trx, {
        type: 'policy_path.changed',
        at: deps.clock.now(),
        actor: admin,
        requestId: null,
        data: {
          name,
          reason,
          from_version: latest?.version ?? null,
          to_version: version,
          broadening: broadening.length > 0,
          changes: changes.map((change) => change.text),
          source: { kind: 'admin', admin },
          via,
          ...(latest?.retired ? { recreated: true } : {}),
        },
      })
    return { created: !current, written: written.written, version, changes }
  })
}
