// `PUT /admin/v1/policy-paths/{name}` (issue 13): a new version of a path, only as the admin meant it —
// valid (the same checks as `apply`), against the version they read (If-Match, RFC 9110 §13.1.1), with a
// reason, and, when it broadens what the path lets through, only once they confirmed it. Refusals are RFC
// 9457 problem details carrying the findings; nothing is written for any of them.
import type { Context } from 'koa'
import type { Kysely } from 'kysely'
import { writeAudit } from '../audit/write.ts'
import type { DB } from '../db/schema.ts'
import { bodyParams } from '../http/body-params.ts'
import { type Clock, toDate } from '../lib/clock.ts'
import { diffDocuments } from '../policy/diff.ts'
import { planPolicyPath } from '../policy/plan-apply.ts'
import { PolicyPathDocument } from '../policy/schema.ts'
import { lockPath } from '../policy/store.ts'
import { currentPolicyPath, policyPathVersion } from './policy-paths.ts'
import { problem } from './problem.ts'

export interface PolicyChangeDeps {
  db: Kysely<DB>
  clock: Clock
  validateDocuments(text: string): Promise<Array<{ severity: string }>>
}

interface Finding {
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
  return applyChange(ctx, deps, name, { ...params, document: old.document, source: `rollback to version ${version}` })
}

export async function changePolicyPath(ctx: Context, deps: PolicyChangeDeps, name: string): Promise<void> {
  const { params, problem: malformed } = bodyParams(ctx)
  if (malformed || !ctx.is('application/json'))
    return problem(ctx, 400, 'Bad request', 'the body is a JSON object: {document, reason, confirmBroadening?}')
  return applyChange(ctx, deps, name, { ...params, source: 'admin-api' })
}

async function applyChange(
  ctx: Context,
  deps: PolicyChangeDeps,
  name: string,
  params: Record<string, unknown> & { source: string },
): Promise<void> {
  const { document, reason, confirmBroadening, source } = params
  if (typeof reason !== 'string' || reason.trim() === '' || reason.length > 1000)
    return problem(ctx, 400, 'Bad request', 'reason is required: why this change (1 to 1000 characters)')
  if (confirmBroadening !== undefined && typeof confirmBroadening !== 'boolean')
    return problem(ctx, 400, 'Bad request', 'confirmBroadening is true or false')
  if (typeof document !== 'object' || document === null || Array.isArray(document))
    return problem(ctx, 400, 'Bad request', 'document is the PolicyPath document as a JSON object')

  // The same checks as apply, on the document as JSON (line and column are those of its pretty form).
  const findings = (await deps.validateDocuments(JSON.stringify(document, null, 2))) as Finding[]
  const errors = findings.filter((f) => f.severity === 'error')
  if (errors.length > 0) return problem(ctx, 422, 'Invalid document', 'the document has errors', errors)
  const parsed = PolicyPathDocument.safeParse(document)
  if (!parsed.success) return problem(ctx, 422, 'Invalid document', 'the document is not a PolicyPath')
  const doc = parsed.data
  if (doc.metadata.name !== name)
    return problem(ctx, 422, 'Invalid document', `metadata.name must be ${name}, the path of this URL`, [
      {
        severity: 'error',
        code: 'name_mismatch',
        message: `metadata.name is ${doc.metadata.name}`,
        path: '/metadata/name',
      },
    ])

  const ifMatch = ctx.get('If-Match')
  const outcome = await deps.db.transaction().execute(async (trx) => {
    await lockPath(trx, name)
    const current = await currentPolicyPath(trx, name)
    if (current && !ifMatch)
      return {
        refused: [
          428,
          'Precondition required',
          'If-Match with the version you read is required to change an existing path',
        ] as const,
      }
    if (ifMatch && ifMatch !== `"${current?.version}"`)
      return {
        refused: [
          412,
          'Precondition failed',
          `the path is at version ${current?.version ?? 'none'}: read it again`,
        ] as const,
      }
    const changes = diffDocuments(current?.document, doc)
    const broadening = changes.filter((change) => change.broadening)
    if (current && broadening.length > 0 && confirmBroadening !== true)
      return {
        refused: [
          409,
          'Broadening not confirmed',
          'this change broadens what the path lets through: confirm with confirmBroadening: true',
        ] as const,
        findings: broadening.map((change) => ({
          severity: 'security_warning',
          code: 'broadening',
          message: change.text,
          path: change.field,
        })),
      }
    const planned = await planPolicyPath(trx, doc)
    const written =
      planned.action === 'unchanged' ? { written: false } : await planned.write(trx, toDate(deps.clock.now()))
    const version = written.written ? ((written as { version?: number }).version ?? 0) : (current?.version ?? 0)
    if (written.written)
      await writeAudit(trx, {
        type: 'policy_path.changed',
        at: deps.clock.now(),
        actor: `admin:${ctx.state.clientId as string}`,
        requestId: null,
        data: {
          name,
          reason,
          from_version: current?.version ?? null,
          to_version: version,
          broadening: broadening.length > 0,
          changes: changes.map((change) => change.text),
          source,
        },
      })
    return { created: !current, written: written.written, version, changes }
  })
  if ('refused' in outcome) {
    const [status, title, detail] = outcome.refused
    return problem(ctx, status, title, detail, outcome.findings ?? [])
  }
  ctx.status = outcome.created ? 201 : 200
  ctx.set('ETag', `"${outcome.version}"`)
  ctx.body = { name, version: outcome.version, changed: outcome.written, changes: outcome.changes }
}
