// examples/mcp-tickets, exercised: the MCP-style server built on mandate/resource-server, against the real app
// serving the demo configuration as `npm start` does (examples/, policy-paths/ with the tickets actions), the
// agent's side done with mandate/agent. Every refusal asserts the HTTP answer, the whole JSON-RPC error, the
// decision record, and that the ticket store did not change: the tool never ran.
import { execFile } from 'node:child_process'
import { mandateAgent, type Task } from 'mandate/agent'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { configFromEnv } from '../../examples/mcp-tickets/config.ts'
import { type Serving, serveMcpTickets } from '../../examples/mcp-tickets/serve.ts'
import { type TicketStore, ticketStore } from '../../examples/mcp-tickets/tickets.ts'
import { useDatabase } from '../support/database.ts'
import { demoPersonToken } from '../support/demo-idp.ts'
import { post } from '../support/oauth.ts'
import { root } from '../support/sdk.ts'
import { useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t, { apply: [`${root}examples`, `${root}policy-paths`] })
const TICKETS = 'https://tickets.example/'
const METADATA = 'https://tickets.example/.well-known/oauth-protected-resource'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const errors: unknown[] = []
let mcp: Serving
let store: TicketStore

beforeAll(async () => {
  store = ticketStore()
  // The example's own settings: only Mandate's address differs from the demo's defaults.
  const config = configFromEnv({ MANDATE_ISSUER: server.issuer, MCP_TICKETS_PORT: '0' })
  mcp = await serveMcpTickets(config, store, (error) => errors.push(error))
})
afterAll(async () => {
  mcp?.server.closeAllConnections()
  await new Promise((resolve) => mcp?.server.close(resolve))
})
afterEach(() => {
  expect(errors).toEqual([]) // no outage and no misconfiguration on the way to Mandate
})

let id = 0
/** One JSON-RPC request to POST /mcp, as an MCP client sends it. */
async function rpc(token: string | undefined, method: string, params?: object, headers: Record<string, string> = {}) {
  const response = await fetch(mcp.endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, ...(params ? { params } : {}) }),
  })
  const text = await response.text()
  return {
    status: response.status,
    challenge: response.headers.get('www-authenticate'),
    body: (text ? JSON.parse(text) : undefined) as Record<string, unknown> | undefined,
  }
}
const call = (token: string, name: string, args: object) => rpc(token, 'tools/call', { name, arguments: args })

/** The data of a refused call's JSON-RPC error: Mandate's reason code, decision id and approval id. */
const refusalData = (answer: Awaited<ReturnType<typeof rpc>>) =>
  (answer.body?.error as { data: { reason: string; decision_id: string; approval_id?: string } } | undefined)?.data

/** The support agent's task for alice, declaring `actions`, and its exchanged token for the tickets resource. */
async function taskToken(
  actions: string[],
  scope = 'tickets:read tickets:write',
): Promise<{ task: Task; token: string }> {
  const agent = await mandateAgent({
    issuer: server.issuer,
    clientId: 'support-agent',
    clientSecret: 'support-agent-demo-secret',
  })
  // Alice handed the agent this token a while ago: it cannot answer an approval asked for later.
  const alice = await demoPersonToken('alice', { age: 120 })
  const task = await agent.startTask({
    subjectToken: alice,
    purpose: "Answer Alice's tickets",
    resources: [TICKETS],
    scope,
    actions,
  })
  return { task, token: (await task.exchange({ resource: TICKETS, scope })).accessToken }
}

const decision = (decisionId: string) =>
  t.db
    .selectFrom('decisions')
    .select([
      'kind',
      'result',
      'reason',
      'action',
      'object_id',
      'caller_id',
      'client_id',
      'subject',
      'task_id',
      'policy_path',
    ])
    .where('decision_id', '=', decisionId)
    .executeTakeFirstOrThrow()
const evaluations = async () =>
  Number(
    (
      await t.db
        .selectFrom('decisions')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('kind', '=', 'evaluation')
        .executeTakeFirstOrThrow()
    ).n,
  )

/** The JSON-RPC error of a refused call, whole. */
const refusal = (tool: string, ticket: string, reason: string, en: string, extra: object = {}) => ({
  jsonrpc: '2.0',
  id: expect.any(Number),
  error: {
    code: -32010,
    message: `${tool} on ${ticket} was refused: ${reason}`,
    data: { reason, decision_id: expect.stringMatching(UUID), ...extra, reason_user: { en } },
  },
})

describe('the MCP endpoint', () => {
  it('serves its RFC 9728 metadata without a token', async () => {
    const response = await fetch(new URL('/.well-known/oauth-protected-resource', mcp.endpoint))
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({
      resource: TICKETS,
      authorization_servers: [server.issuer],
      bearer_methods_supported: ['header'],
      scopes_supported: ['tickets:read', 'tickets:write'],
      resource_name: 'Tickets (MCP)',
      dpop_signing_alg_values_supported: expect.arrayContaining(['ES256']),
      dpop_bound_access_tokens_required: false,
    })
  })

  it('answers 401 with the resource_metadata challenge without a valid token, asking Mandate nothing', async () => {
    const before = { tickets: store.all(), evaluations: await evaluations() }
    expect(await rpc(undefined, 'tools/call', { name: 'tickets.delete', arguments: { ticket: 'ticket-43' } })).toEqual({
      status: 401,
      challenge: `Bearer resource_metadata="${METADATA}"`,
      body: undefined,
    })
    expect(await rpc('not-a-token', 'tools/list')).toEqual({
      status: 401,
      challenge: `Bearer error="invalid_token", error_description="the access token is invalid", resource_metadata="${METADATA}"`,
      body: { error: 'invalid_token', error_description: 'the access token is invalid' },
    })
    expect({ tickets: store.all(), evaluations: await evaluations() }).toEqual(before)
  })

  it('negotiates the protocol version, lists the tools, accepts notifications, and refuses what it does not serve', async () => {
    const { token } = await taskToken(['tickets.read'])
    const initialize = (protocolVersion: string) =>
      rpc(token, 'initialize', { protocolVersion, capabilities: {}, clientInfo: { name: 'test', version: '1' } })
    expect((await initialize('2025-06-18')).body).toMatchObject({
      result: { protocolVersion: '2025-06-18', capabilities: { tools: { listChanged: false } } },
    })
    expect((await initialize('2024-11-05')).body).toMatchObject({ result: { protocolVersion: '2025-11-25' } })
    const listed = await rpc(token, 'tools/list', {}, { 'mcp-protocol-version': '2025-06-18' })
    expect(listed.status).toBe(200)
    const tools = (listed.body?.result as { tools: Array<Record<string, unknown>> } | undefined)?.tools ?? []
    expect(tools.map((tool) => [tool.name, tool.annotations])).toEqual([
      ['tickets.read', expect.objectContaining({ readOnlyHint: true, destructiveHint: false })],
      ['tickets.comment', expect.objectContaining({ readOnlyHint: false, destructiveHint: false })],
      ['tickets.delete', expect.objectContaining({ readOnlyHint: false, destructiveHint: true })],
    ])
    const notified = await fetch(mcp.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    })
    expect({ status: notified.status, body: await notified.text() }).toEqual({ status: 202, body: '' })
    expect(await rpc(token, 'tools/list', {}, { 'mcp-protocol-version': '1999-01-01' })).toMatchObject({
      status: 400,
      body: { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'unsupported MCP-Protocol-Version' } },
    })
    expect((await rpc(token, 'resources/list')).body).toMatchObject({ error: { code: -32601 } })
    const raw = (body: string) =>
      fetch(mcp.endpoint, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body })
    const unparsable = await raw('{"jsonrpc":')
    expect({ status: unparsable.status, body: await unparsable.json() }).toEqual({
      status: 400,
      body: { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'the body is not JSON' } },
    })
    expect((await raw(' '.repeat(65 * 1024))).status).toBe(413)
    const get = await fetch(mcp.endpoint, { headers: { authorization: `Bearer ${token}` } })
    expect({ status: get.status, allow: get.headers.get('allow') }).toEqual({ status: 405, allow: 'POST' })
    // MCP transports §Security: a page of another origin (DNS rebinding) is refused before anything runs.
    expect(await rpc(token, 'tools/list', {}, { origin: 'https://evil.example' })).toMatchObject({
      status: 403,
      body: { error: { code: -32600, message: 'this Origin may not call' } },
    })
  })
})

describe('each tools/call is decided by Mandate', () => {
  it('runs tickets.read when Mandate allows it, and records the decision', async () => {
    const before = await evaluations()
    const { task, token } = await taskToken(['tickets.read', 'tickets.delete'])
    const answer = await call(token, 'tickets.read', { ticket: 'ticket-41' })
    expect(answer.status).toBe(200)
    expect(answer.body).toMatchObject({
      result: { structuredContent: { ticket: { id: 'ticket-41', title: 'Password reset link expired' } } },
    })
    expect(await evaluations()).toBe(before + 1)
    const row = await t.db
      .selectFrom('decisions')
      .select('decision_id')
      .where('task_id', '=', task.id)
      .where('kind', '=', 'evaluation')
      .executeTakeFirstOrThrow()
    expect(await decision(row.decision_id)).toEqual({
      kind: 'evaluation',
      result: 'allow',
      reason: 'allowed',
      action: 'tickets.read',
      object_id: 'ticket-41',
      caller_id: 'tickets-api',
      client_id: 'support-agent',
      subject: 'alice',
      task_id: task.id,
      policy_path: 'acme/support/tickets-write',
    })
  })

  it('runs tickets.comment within the task, signed with the person and the agent', async () => {
    const { token } = await taskToken(['tickets.comment'])
    const answer = await call(token, 'tickets.comment', { ticket: 'ticket-43', text: 'Merging the two accounts.' })
    expect(answer.status).toBe(200)
    expect(store.get('ticket-43')?.comments).toEqual([
      { by: 'alice', via: ['support-agent'], text: 'Merging the two accounts.' },
    ])
  })

  it('refuses a tool outside the task\u2019s declared actions (outside_task_intent) without running it', async () => {
    const { task, token } = await taskToken(['tickets.read', 'tickets.delete'])
    const before = store.all()
    const answer = await call(token, 'tickets.comment', { ticket: 'ticket-42', text: 'Closing as fixed.' })
    expect(answer).toEqual({
      status: 200,
      challenge: null,
      body: refusal(
        'tickets.comment',
        'ticket-42',
        'outside_task_intent',
        "this action is outside the task's declared actions",
      ),
    })
    expect(store.all()).toEqual(before)
    const decisionId = refusalData(answer)?.decision_id as string
    expect(await decision(decisionId)).toMatchObject({
      result: 'deny',
      reason: 'outside_task_intent',
      action: 'tickets.comment',
      task_id: task.id,
    })
  })

  it('asks alice to approve tickets.delete, runs it once after she does, then asks again', async () => {
    const { token } = await taskToken(['tickets.read', 'tickets.delete'])
    const before = store.all()
    const asked = await call(token, 'tickets.delete', { ticket: 'ticket-42' })
    expect(asked).toEqual({
      status: 200,
      challenge: null,
      body: refusal('tickets.delete', 'ticket-42', 'approval_required', 'the person must approve this action first', {
        approval_id: expect.stringMatching(UUID),
      }),
    })
    expect(store.all()).toEqual(before)
    const approvalId = refusalData(asked)?.approval_id as string

    // Alice answers with a token of her own, issued after the request, in a later second (the one the agent
    // holds cannot, nor one of the request's own second).
    await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 5))
    const approved = await fetch(`${server.url}/approvals/${approvalId}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await demoPersonToken('alice')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'approve' }),
    })
    expect(await approved.json()).toMatchObject({
      status: 'approved',
      object_id: 'ticket-42',
      decided_by: 'acme-idp:alice',
    })

    const ran = await call(token, 'tickets.delete', { ticket: 'ticket-42' })
    expect(ran).toMatchObject({ status: 200, body: { result: { structuredContent: { deleted: 'ticket-42' } } } })
    expect(store.get('ticket-42')).toBeUndefined()
    expect(store.all()).toEqual(before.filter((ticket) => ticket.id !== 'ticket-42'))
    const row = await t.db
      .selectFrom('approvals')
      .select('status')
      .where('approval_id', '=', approvalId)
      .executeTakeFirst()
    expect(row).toEqual({ status: 'used' })

    // Spent: the next deletion is a new request for alice, and nothing runs.
    const after = store.all()
    const again = await call(token, 'tickets.delete', { ticket: 'ticket-43' })
    expect(refusalData(again)).toMatchObject({
      reason: 'approval_required',
      approval_id: expect.not.stringMatching(approvalId),
    })
    expect(store.all()).toEqual(after)
  })

  it('refuses every call once the task is completed (token_inactive, 401 with the challenge) and changes nothing', async () => {
    const { task, token } = await taskToken(['tickets.read', 'tickets.delete'])
    expect((await call(token, 'tickets.read', { ticket: 'ticket-43' })).status).toBe(200)
    await task.complete('succeeded')
    const before = store.all()
    const answer = await call(token, 'tickets.delete', { ticket: 'ticket-43' })
    expect(answer).toEqual({
      status: 401,
      challenge: `Bearer error="invalid_token", error_description="the access token is not active", resource_metadata="${METADATA}"`,
      body: refusal(
        'tickets.delete',
        'ticket-43',
        'token_inactive',
        'the access token is not active for this resource',
      ),
    })
    expect(store.all()).toEqual(before)
    expect(store.get('ticket-43')).toBeDefined()
    const decisionId = refusalData(answer)?.decision_id as string
    expect(await decision(decisionId)).toMatchObject({
      result: 'deny',
      reason: 'token_inactive',
      action: 'tickets.delete',
      object_id: 'ticket-43',
      caller_id: 'tickets-api',
    })
  })

  it('refuses a tool whose scope the token lacks (403 insufficient_scope, MCP step-up) before asking Mandate', async () => {
    const { token } = await taskToken(['tickets.read', 'tickets.delete'], 'tickets:read')
    const before = { tickets: store.all(), evaluations: await evaluations() }
    expect(await call(token, 'tickets.delete', { ticket: 'ticket-43' })).toEqual({
      status: 403,
      challenge: `Bearer error="insufficient_scope", error_description="the access token does not carry the scope this request needs", scope="tickets:write", resource_metadata="${METADATA}"`,
      body: {
        error: 'insufficient_scope',
        error_description: 'the access token does not carry the scope this request needs',
      },
    })
    expect({ tickets: store.all(), evaluations: await evaluations() }).toEqual(before)
  })
})

describe('the demo configuration', () => {
  it('gives the support agent\u2019s own client_credentials tokens reading only: no deleting without a person', async () => {
    const credentials = { clientId: 'support-agent', secret: 'support-agent-demo-secret' }
    const asked = (scope: string) =>
      post(`${server.url}/token`, { grant_type: 'client_credentials', resource: TICKETS, scope }, credentials)
    const write = await asked('tickets:write')
    expect({ status: write.status, body: await write.json() }).toEqual({
      status: 400,
      body: { error: 'invalid_scope', error_description: 'the requested scope is not allowed' },
    })
    const { access_token: own } = (await (await asked('tickets:read')).json()) as { access_token: string }
    expect((await call(own, 'tickets.read', { ticket: 'ticket-41' })).status).toBe(200)
  })
})

describe('run as the README says', () => {
  it('starts with `node --conditions=mandate-source examples/mcp-tickets/server.ts` and serves MCP', async () => {
    const child = execFile(process.execPath, ['--conditions=mandate-source', 'examples/mcp-tickets/server.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', MANDATE_ISSUER: server.issuer, MCP_TICKETS_PORT: '0' },
    })
    try {
      const endpoint = await new Promise<string>((resolve, reject) => {
        let out = ''
        child.stdout?.on('data', (chunk: Buffer) => {
          out += chunk.toString()
          const found = /MCP endpoint (\S+),/.exec(out)
          if (found) resolve(found[1] as string)
        })
        child.once('exit', (code) => reject(new Error(`server.ts exited with ${code}: ${out}`)))
      })
      const { token } = await taskToken(['tickets.read'])
      const listed = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      })
      const { result } = (await listed.json()) as { result: { tools: Array<{ name: string }> } }
      expect(result.tools.map((tool) => tool.name)).toEqual(['tickets.read', 'tickets.comment', 'tickets.delete'])
      const anonymous = await fetch(endpoint, { method: 'POST', body: '{}' })
      expect(anonymous.status).toBe(401)
    } finally {
      child.kill()
    }
  })
})
