// `DELETE /admin/v1/policy-paths/{name}` (issue 13): retires a path. Its bindings stop matching at once (the
// exchanges they governed meet the unbound-triple refusal), its history is kept, and the retirement is a
// version of its own, with the admin and the reason. Like PUT: If-Match (RFC 9110 §13.1.1) and a reason are
// required, refusals are RFC 9457 problem details, and nothing is written for any of them. A path with paths
// in force below it is not retired: their effective policy would lose a level, which broadens it. Unbinding a
// client_credentials or authorization_code triple leaves it without a ceiling: confirmBroadening is needed.
import type { Context } from 'koa'
import { writeAudit } from '../audit/write.ts'
import { bodyParams } from '../http/body-params.ts'
import { toDate } from '../lib/clock.ts'
import { retirePolicyPath } from '../policy/retire.ts'
import type { PolicyChangeDeps } from './policy-change.ts'
import { problem } from './problem.ts'

export async function deletePolicyPath(ctx: Context, deps: PolicyChangeDeps, name: string): Promise<void> {
  const { params, problem: malformed } = bodyParams(ctx)
  if (malformed || !ctx.is('application/json'))
    return problem(ctx, 400, 'Bad request', 'the body is a JSON object: {reason, confirmBroadening?}')
  const { reason, confirmBroadening } = params
  if (typeof reason !== 'string' || reason.trim() === '' || reason.length > 1000)
    return problem(ctx, 400, 'Bad request', 'reason is required: why this path is retired (1 to 1000 characters)')
  if (confirmBroadening !== undefined && typeof confirmBroadening !== 'boolean')
    return problem(ctx, 400, 'Bad request', 'confirmBroadening is true or false')
  const ifMatch = ctx.get('If-Match')
  const admin = `admin:${ctx.state.clientId as string}`
  const outcome = await deps.db.transaction().execute(async (trx) => {
    const result = await retirePolicyPath(trx, name, {
      now: toDate(deps.clock.now()),
      source: { kind: 'admin', admin },
      reason,
      confirmBroadening: confirmBroadening === true,
      ifMatch: (current) => {
        if (!ifMatch)
          return [428, 'Precondition required', 'If-Match with the version you read is required to retire a path']
        if (ifMatch !== `"${current}"`)
          return [412, 'Precondition failed', `the path is at version ${current}: read it again`]
        return undefined
      },
    })
    if (result.retired)
      await writeAudit(trx, {
        type: 'policy_path.retired',
        at: deps.clock.now(),
        actor: admin,
        requestId: null,
        data: {
          name,
          reason,
          from_version: result.from,
          to_version: result.version,
          source: { kind: 'admin', admin },
          unbound: result.unbound,
        },
      })
    return result
  })
  if (!outcome.retired) {
    const { status, title, detail, findings } = outcome.refused
    return problem(ctx, status, title, detail, findings)
  }
  ctx.status = 200
  ctx.set('ETag', `"${outcome.version}"`)
  ctx.body = { name, version: outcome.version, retired: true, unbound: outcome.unbound }
}
