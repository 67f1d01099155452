// GET and POST /approvals/{id}: the person who delegated sees an approval an evaluation requested, and
// approves or refuses it (`decision=approve|deny`) with their own access token as bearer (RFC 6750 §2.1),
// never the agent's. A token bound to a key (cnf.jkt) is presented with a DPoP proof (RFC 9449 §7).
import { decodeJwt } from 'jose'
import type { Context } from 'koa'
import { approverProblem } from '../approvals/approver.ts'
import { presentApproval } from '../approvals/present.ts'
import { type ApprovalRow, answerApproval, findApproval } from '../approvals/store.ts'
import { writeAudit } from '../audit/write.ts'
import { Denied } from '../delegation/denied.ts'
import { type TokenDeps, verifySubject } from '../delegation/subject-token.ts'
import { claimProof } from '../dpop/claim.ts'
import { DpopProblem } from '../dpop/proof.ts'
import { type DpopSettings, readDpopProof } from '../dpop/read-proof.ts'
import { presentedToken } from '../http/authorization.ts'
import { HttpError } from '../http/http-error.ts'
import { toDate } from '../lib/clock.ts'
import { JWT_TOKEN_TYPE, TOKEN_EXCHANGE } from '../oauth/protocol.ts'

export interface ApprovalsDeps extends TokenDeps {
  dpop: DpopSettings
  log: { info(fields: object, msg: string): void }
}

export async function handleApproval(
  ctx: Context,
  approvalId: string,
  params: Record<string, unknown>,
  deps: ApprovalsDeps,
): Promise<void> {
  const decision = ctx.method === 'POST' ? params.decision : undefined
  if (ctx.method === 'POST' && decision !== 'approve' && decision !== 'deny')
    throw new HttpError('invalid_request', 'decision must be approve or deny')
  const person = await authenticatePerson(ctx, deps)
  const approval = await findApproval(deps.db, approvalId)
  const problem = approval && approverProblem(person, approval)
  // Anyone else learns nothing, not even that the approval exists.
  if (!approval || problem) {
    if (approval) deps.log.info({ approval_id: approvalId, sub: person.sub, problem }, 'approval answer refused')
    throw new HttpError('not_found', 'approval')
  }
  const now = deps.clock.now()
  if (ctx.method !== 'POST') {
    ctx.body = presentApproval(approval, toDate(now))
    return
  }
  const status = decision === 'approve' ? 'approved' : 'denied'
  const by = `${person.origin}:${person.sub}`
  const answered = await deps.db.transaction().execute(async (trx) => {
    const row = await answerApproval(trx, approval.approval_id, { status, by, now: toDate(now) })
    if (row) await writeAudit(trx, auditOf(row, status, by, now, ctx), deps.log)
    return row
  })
  if (!answered) throw new HttpError('approval_closed')
  ctx.body = presentApproval(answered, toDate(now))
}

const auditOf = (row: ApprovalRow, status: 'approved' | 'denied', by: string, now: number, ctx: Context) => ({
  type: status === 'approved' ? ('approval.approved' as const) : ('approval.denied' as const),
  at: now,
  actor: by,
  requestId: (ctx.state.reqId as string | undefined) ?? null,
  subject: row.delegator,
  taskId: row.task_id,
  jti: row.token_jti,
  data: {
    approval_id: row.approval_id,
    action: row.action,
    resource: row.resource,
    object_id: row.object_id,
    agent: row.holder,
  },
})

/** The bearer (or DPoP-bound) token of the person; any problem is one 401 (RFC 6750 §3.1). */
async function authenticatePerson(ctx: Context, deps: ApprovalsDeps) {
  const token = presentedToken(ctx.get('authorization'))?.token
  if (!token) throw new HttpError('approval_token_missing')
  try {
    const subject = await verifySubject(token, JWT_TOKEN_TYPE, deps)
    if (subject.facts.jkt !== undefined) {
      const now = deps.clock.now()
      const proof = await readDpopProof(ctx, { url: `${deps.issuer}${ctx.path}`, now, accessToken: token }, deps.dpop)
      // RFC 9449 §11.1: a proof is used once (spent here for a look as for an answer, as at the admin API).
      const presenter = `person:${subject.origin}:${subject.facts.sub}`
      if (proof?.jkt !== subject.facts.jkt || !(await claimProof(deps.db, presenter, proof, now)))
        throw new HttpError('approval_token_invalid')
    }
    const { iat } = decodeJwt(token)
    return {
      sub: subject.facts.sub,
      origin: subject.origin,
      hasAct: subject.facts.act !== undefined,
      holder: subject.facts.holder,
      exchanged: subject.row?.grant_type === TOKEN_EXCHANGE,
      issuedAt: typeof iat === 'number' ? iat : undefined,
    }
  } catch (error) {
    if (error instanceof Denied || error instanceof DpopProblem) throw new HttpError('approval_token_invalid')
    throw error
  }
}
