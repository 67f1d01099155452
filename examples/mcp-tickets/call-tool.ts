// tools/call: the arguments checked, then Mandate asked through mandate/resource-server's authorize (AuthZEN:
// action = the tool's name, object = the ticket), and the tool run only on an allow. A deny is a JSON-RPC
// error carrying Mandate's reason code and decision id (and approval id): the tool never runs.
import type { Authenticated, Denied, Failed, ResourceServer } from 'mandate/resource-server'
import { failure, type Id, INTERNAL_ERROR, INVALID_PARAMS, REFUSED, result } from './json-rpc.ts'
import type { TicketStore } from './tickets.ts'
import { type Caller, parseArgs, type Tool, toolNamed } from './tools.ts'

/** What to send: the HTTP status and headers, and the JSON-RPC message. */
export interface Answer {
  status: number
  headers?: Record<string, string>
  body: object
}

export interface CallContext {
  rs: ResourceServer
  store: TicketStore
  auth: Authenticated
}

export async function callTool(id: Id, params: Record<string, unknown>, context: CallContext): Promise<Answer> {
  const tool = toolNamed(params.name)
  if (!tool) return { status: 200, body: failure(id, { code: INVALID_PARAMS, message: 'unknown tool' }) }
  const args = parseArgs(tool, params.arguments ?? {})
  if (typeof args === 'string') return { status: 200, body: failure(id, { code: INVALID_PARAMS, message: args }) }
  const evaluation = await context.rs.authorize(context.auth, { action: tool.name, object: args.ticket })
  if (!evaluation.decision) return refused(id, tool, args.ticket, evaluation, context)
  return { status: 200, body: result(id, tool.run(context.store, args, callerOf(context.auth))) }
}

function refused(id: Id, tool: Tool, ticket: string, evaluation: Denied | Failed, context: CallContext): Answer {
  // The helper's own reply for this evaluation: its status and challenge are what HTTP should say.
  const reply = context.rs.refusalFor(evaluation, context.auth)
  if (evaluation.failure) {
    // No decision (Mandate unreachable, or our client refused): never run the tool, fail as the helper does.
    const retry = reply?.headers['retry-after']
    return {
      status: evaluation.failure.status,
      ...(retry ? { headers: { 'retry-after': retry } } : {}),
      body: failure(id, { code: INTERNAL_ERROR, message: 'the authorization decision could not be obtained' }),
    }
  }
  const data = {
    reason: evaluation.reason,
    decision_id: evaluation.decisionId,
    ...(evaluation.approvalId ? { approval_id: evaluation.approvalId } : {}),
    ...(evaluation.reasonUser ? { reason_user: evaluation.reasonUser } : {}),
  }
  const body = failure(id, {
    code: REFUSED,
    message: `${tool.name} on ${ticket} was refused: ${evaluation.reason}`,
    data,
  })
  // A token no longer active is RFC 6750 §3.1 invalid_token: 401 with the challenge, so an MCP client gets a
  // new token. Any other deny answers this call, not the transport: 200, so the agent reads the reason
  // (an approval to wait for, an action outside its task) where an HTTP 403 would end as a transport error.
  const challenge = reply?.headers['www-authenticate']
  return evaluation.reason === 'token_inactive' && challenge
    ? { status: 401, headers: { 'www-authenticate': challenge }, body }
    : { status: 200, body }
}

/** The person and the agents acting for them, outermost first (RFC 8693 §4.1 nests the earlier actors). */
function callerOf({ claims }: Authenticated): Caller {
  const via: string[] = []
  for (let act = claims.act; act; act = act.act) via.push(act.sub)
  return { sub: claims.sub, via }
}
