// The edges of task use found in review: who may use a task, which "alice" is the delegator, task
// expiry on its own, private_key_jwt at the tasks API (and no assertion replay across endpoints),
// malformed encodings, and a revoked admin token.
import { sql } from 'kysely'
import { decodeJwt } from 'jose'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { TOKEN_INVALID } from '../../src/oauth/descriptions.ts'
import { clientAssertion, JWT_BEARER, taskBodyWithAssertion } from '../support/client-assertion.ts'
import { useDatabase } from '../support/database.ts'
import { personToken } from '../support/idp.ts'
import {
  ACCESS_TOKEN,
  accessToken,
  exchange,
  exchanged,
  expectRejection,
  introspect,
  post,
  revoke,
  tasksCall,
} from '../support/oauth.ts'
import { expectRefused } from '../support/refusals.ts'
import { exchangeRequest, taskRequest } from '../support/requests.ts'
import { useServer } from '../support/server.ts'
import { startTask } from '../support/tasks.ts'

const t = useDatabase()
const server = useServer(t)
const tickets = 'https://tickets.test/'
const invalidToken = { status: 400, error: 'invalid_request', error_description: TOKEN_INVALID }

afterEach(() => {
  vi.useRealTimers()
})

const reasonOf = async (response: Response) =>
  (
    await t.db
      .selectFrom('decisions')
      .select('reason')
      .where('decision_id', '=', response.headers.get('x-decision-id') as string)
      .executeTakeFirstOrThrow()
  ).reason

describe('who may use a task', () => {
  it("refuses a listed actor that uses the task without the agent's delegation (exchange and subtask)", async () => {
    const { task, alice } = await startTask(server.url)
    const hijack = { client: 'agent-two', params: { subject_token: alice, task_id: task.task_id } }
    await expectRefused(t.db, await exchangeRequest(server.url, hijack), { ...invalidToken, reason: 'task.invalid' })
    const subtask = {
      client: 'agent-two',
      params: { subject_token: alice, purpose: 'hijack', parent_task_id: task.task_id },
    }
    await expectRefused(t.db, await taskRequest(server.url, subtask), invalidToken)
  })

  it('lets the same actor work on it from a token the agent delegated', async () => {
    const { task, alice } = await startTask(server.url)
    const agent = await exchanged(server.url, 'agent-one', {
      subject_token: alice,
      resource: tickets,
      task_id: task.task_id,
    })
    const sub = await exchanged(server.url, 'sub-agent', {
      subject_token: agent,
      resource: tickets,
      task_id: task.task_id,
      scope: 'tickets:read',
    })
    expect(decodeJwt(sub).task_id).toBe(task.task_id)
  })

  it('tells the IdP alice from a self-issued alice', async () => {
    const { task } = await startTask(server.url)
    const selfAlice = await accessToken(server.url, 'alice', { scope: 'tickets:read' })
    expect(decodeJwt(selfAlice).sub).toBe('alice')
    const send = await exchangeRequest(server.url, { params: { subject_token: selfAlice, task_id: task.task_id } })
    await expectRefused(t.db, send, { ...invalidToken, reason: 'task.invalid' })
  })
})

describe('task expiry', () => {
  it('ends tokens whose own lifetime has not ended yet (fake clock)', async () => {
    const { task, alice } = await startTask(server.url)
    const token = await exchanged(server.url, 'agent-one', {
      subject_token: alice,
      resource: tickets,
      task_id: task.task_id,
    })
    const exp = decodeJwt(token).exp as number
    // The task now ends 30 s before the token would.
    await sql`update tasks set expires_at = to_timestamp(${exp - 30}) where task_id = ${task.task_id}`.execute(t.db)
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime((exp - 40) * 1000)
    expect(await introspect(server.url, token)).toMatchObject({ active: true })
    vi.setSystemTime((exp - 20) * 1000)
    expect(await introspect(server.url, token)).toEqual({ active: false })
  })
})

describe('private_key_jwt at the token endpoint and the tasks API', () => {
  it('authenticates with an assertion once, and never twice', async () => {
    const cc = await post(`${server.url}/token`, {
      grant_type: 'client_credentials',
      resource: tickets,
      client_assertion_type: JWT_BEARER,
      client_assertion: await clientAssertion(server.issuer),
    })
    expect(cc.status).toBe(200)

    const assertion = await clientAssertion(server.issuer)
    expect((await post(`${server.url}/tasks`, await taskBodyWithAssertion(assertion))).status).toBe(201)
    await expectRejection(await post(`${server.url}/tasks`, await taskBodyWithAssertion(assertion)), {
      status: 401,
      error: 'invalid_client',
      error_description: 'client authentication failed',
    })

    // Spent at the token endpoint, the same assertion is refused by the tasks API.
    const shared = await clientAssertion(`${server.issuer}/token`)
    const first = await post(`${server.url}/token`, {
      grant_type: 'client_credentials',
      resource: tickets,
      client_assertion_type: JWT_BEARER,
      client_assertion: shared,
    })
    expect(first.status).toBe(200)
    await expectRejection(await post(`${server.url}/tasks`, await taskBodyWithAssertion(shared)), {
      status: 401,
      error: 'invalid_client',
      error_description: 'client authentication failed',
    })
  })
})

describe('malformed input and revoked admin tokens', () => {
  it('answers 404 for a malformed task path and 400 for a malformed Basic header', async () => {
    const response = await tasksCall(server.url, 'agent-one', '/tasks/%E0%A4%A')
    await expectRejection(response, { status: 404, error: 'not_found', error_description: 'task not found' })
    const basic = await fetch(`${server.url}/tasks`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('agent-one:%zz').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'purpose=p',
    })
    await expectRejection(basic, {
      status: 400,
      error: 'invalid_request',
      error_description: 'client_id and client_secret in the authorization header are not properly encoded',
    })
  })

  it('stops accepting an admin token the moment it is revoked', async () => {
    const admin = await accessToken(server.url, 'mandate-admin', {
      resource: 'urn:mandate:admin',
      scope: 'mandate:admin',
    })
    const audit = () => fetch(`${server.adminUrl}/admin/v1/audit`, { headers: { authorization: `Bearer ${admin}` } })
    expect((await audit()).status).toBe(200)
    expect((await revoke(server.url, admin, 'mandate-admin')).status).toBe(200)
    expect((await audit()).status).toBe(401)
  })
})

describe('a token minted with an actor_token depends on it', () => {
  async function mintedWithActor() {
    const { task, alice } = await startTask(server.url)
    const agentToken = await exchanged(server.url, 'agent-one', {
      subject_token: alice,
      resource: tickets,
      task_id: task.task_id,
    })
    // The agent acts with its task token as actor_token, for a token of the same person not bound to the task.
    const minted = await exchanged(server.url, 'agent-one', {
      subject_token: await personToken({ scope: 'tickets:read' }),
      resource: tickets,
      actor_token: agentToken,
      actor_token_type: ACCESS_TOKEN,
    })
    expect(decodeJwt(minted).task_id).toBeUndefined()
    const row = await t.db
      .selectFrom('issued_tokens')
      .select(['actor_jti', 'depends_on', 'task_path'])
      .where('jti', '=', decodeJwt(minted).jti as string)
      .executeTakeFirstOrThrow()
    expect(row).toEqual({
      actor_jti: decodeJwt(agentToken).jti,
      depends_on: [decodeJwt(agentToken).jti],
      task_path: [task.task_id],
    })
    expect(await introspect(server.url, minted)).toMatchObject({ active: true })
    return { task, agentToken, minted }
  }

  it('ends when the actor token is revoked (RFC 7009)', async () => {
    const { agentToken, minted } = await mintedWithActor()
    expect((await revoke(server.url, agentToken, 'agent-one')).status).toBe(200)
    expect(await introspect(server.url, minted)).toEqual({ active: false })
  })

  it("ends when the actor token's task is completed, which counts it", async () => {
    const { task, minted } = await mintedWithActor()
    const completed = await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}/complete`, {})
    expect(await completed.json()).toMatchObject({ status: 'completed', revoked_tokens: 2 })
    expect(await introspect(server.url, minted)).toEqual({ active: false })
  })
})

describe('chains that add no act depth', () => {
  it('never outlive their actor token, and stop at 32 tokens behind one token', async () => {
    const alice = await personToken({ scope: 'tickets:read' })
    let actor = await exchanged(server.url, 'agent-one', { subject_token: alice, resource: tickets })
    let hops = 0
    for (;;) {
      const response = await exchange(server.url, 'agent-one', {
        subject_token: alice,
        resource: tickets,
        actor_token: actor,
        actor_token_type: ACCESS_TOKEN,
      })
      if (response.status !== 200) {
        expect(await reasonOf(response)).toBe('delegation.too_deep')
        await expectRejection(response, invalidToken)
        break
      }
      const minted = ((await response.json()) as { access_token: string }).access_token
      expect(decodeJwt(minted).exp as number).toBeLessThanOrEqual(decodeJwt(actor).exp as number)
      actor = minted
      hops++
      expect(hops).toBeLessThanOrEqual(32)
    }
    // The first actor token plus 31 minted ones are behind the 32nd: one more would be 33.
    expect(hops).toBe(32)
  })
})
