// Every refusal of the tasks API (status, body, nothing written), ownership, and exchanges that
// name a task they may not use.
import { describe, expect, it } from 'vitest'
import { TOKEN_INVALID } from '../../src/oauth/descriptions.ts'
import { useDatabase, writtenRows } from '../support/database.ts'
import { personToken } from '../support/idp.ts'
import { ACCESS_TOKEN, exchange, exchanged, expectRejection, type Params, tasksCall } from '../support/oauth.ts'
import { expectRefused, type Refusal, titled } from '../support/refusals.ts'
import { exchangeRequest, taskRequest } from '../support/requests.ts'
import { useServer } from '../support/server.ts'
import { startTask } from '../support/tasks.ts'

const t = useDatabase()
const server = useServer(t)
const tickets = 'https://tickets.test/'
const NO_SUCH_TASK = '00000000-0000-4000-8000-000000000000'

const invalidRequest = (error_description: string) => ({ status: 400, error: 'invalid_request', error_description })
const invalidTarget = {
  status: 400,
  error: 'invalid_target',
  error_description: 'the resource is missing, unknown or not allowed for this client',
}
const invalidScope = { status: 400, error: 'invalid_scope', error_description: 'the requested scope is not allowed' }
const unauthenticated = {
  status: 401,
  error: 'invalid_client',
  error_description: 'client authentication failed',
  wwwAuthenticate: 'Basic realm="mandate"',
}

describe('POST /tasks refusals change nothing', () => {
  const refusals: Refusal[] = [
    {
      name: 'a failed client authentication',
      overrides: { secret: 'wrong-secret-0000000000' },
      expected: unauthenticated,
    },
    {
      name: 'no client authentication at all',
      overrides: { client: null, body: 'purpose=p' },
      expected: unauthenticated,
    },
    {
      name: 'a missing purpose',
      overrides: { params: { purpose: undefined } },
      expected: invalidRequest('purpose is required (1 to 1000 characters)'),
    },
    {
      name: 'a purpose over 1000 characters',
      overrides: { params: { purpose: 'x'.repeat(1001) } },
      expected: invalidRequest('purpose is required (1 to 1000 characters)'),
    },
    {
      name: 'a missing subject_token',
      overrides: { params: { subject_token: undefined, subject_token_type: undefined } },
      expected: invalidRequest(TOKEN_INVALID),
    },
    {
      name: 'an invalid subject_token',
      overrides: { params: { subject_token: 'x.y.z' } },
      expected: invalidRequest(TOKEN_INVALID),
    },
    {
      name: 'an expired subject_token',
      overrides: async () => ({ params: { subject_token: await personToken({ expiresIn: -60 }) } }),
      expected: invalidRequest(TOKEN_INVALID),
    },
    { name: 'no resource', overrides: { params: { resource: undefined } }, expected: invalidTarget },
    {
      name: 'an unknown resource',
      overrides: { params: { resource: 'https://unknown.test/' } },
      expected: invalidTarget,
    },
    {
      name: 'a resource without a token-exchange binding for the client',
      overrides: { params: { resource: 'https://other.test/api' } },
      expected: invalidTarget,
    },
    {
      name: 'a scope beyond the policy path',
      overrides: async () => ({
        params: {
          subject_token: await personToken({ scope: 'tickets:read tickets:write admin:all' }),
          scope: 'admin:all',
        },
      }),
      expected: invalidScope,
    },
    {
      name: 'a scope beyond the person token',
      overrides: async () => ({
        params: { subject_token: await personToken({ scope: 'tickets:read' }), scope: 'tickets:write' },
      }),
      expected: invalidScope,
    },
    {
      name: 'a malformed expires_in',
      overrides: { params: { expires_in: '-5' } },
      expected: invalidRequest('expires_in must be a positive number of seconds'),
    },
    {
      name: 'a repeated purpose',
      overrides: { params: { purpose: ['a', 'b'] } },
      expected: invalidRequest("'purpose' parameter must not be provided twice"),
    },
    {
      name: 'a missing subject_token_type',
      overrides: { params: { subject_token_type: undefined } },
      expected: invalidRequest(TOKEN_INVALID),
    },
    {
      name: 'a subject_token_type that is not a token type of RFC 8693 we accept',
      overrides: { params: { subject_token_type: 'urn:bogus' } },
      expected: invalidRequest(TOKEN_INVALID),
    },
    ...(['subject_token', 'scope', 'parent_task_id', 'subject_token_type', 'expires_in'] as const).map(
      (name): Refusal => ({
        name: `a repeated ${name}`,
        overrides: async () => {
          const params: Params = {
            subject_token: await personToken(),
            subject_token_type: ACCESS_TOKEN,
            scope: 'tickets:read',
            expires_in: '60',
            parent_task_id: NO_SUCH_TASK,
          }
          return { params: { ...params, [name]: [params[name] as string, params[name] as string] } }
        },
        expected: invalidRequest(`'${name}' parameter must not be provided twice`),
      }),
    ),
    {
      name: 'a purpose that is not a string (JSON)',
      overrides: { json: { purpose: 42 } },
      expected: invalidRequest("'purpose' parameter must be a string"),
    },
    {
      name: 'a body that is not valid JSON',
      overrides: { headers: { 'content-type': 'application/json' }, body: '{"purpose": ' },
      expected: invalidRequest('request body is not valid JSON'),
    },
    {
      name: "a scope beyond the agent's policy path (the person and the resource would allow it)",
      overrides: async () => ({
        client: 'sub-agent',
        params: { subject_token: await personToken({ scope: 'tickets:read tickets:write' }), scope: 'tickets:write' },
      }),
      expected: invalidScope,
    },
    {
      name: 'a completed parent task',
      overrides: async () => {
        const { task, alice } = await startTask(server.url)
        expect((await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}/complete`, {})).status).toBe(200)
        return { params: { subject_token: alice, parent_task_id: task.task_id } }
      },
      expected: invalidRequest(TOKEN_INVALID),
    },
    {
      name: 'an expired parent task',
      overrides: async () => {
        const { task, alice } = await startTask(server.url, { params: { expires_in: '1' } })
        await new Promise((resolve) => setTimeout(resolve, 1100))
        return { params: { subject_token: alice, parent_task_id: task.task_id } }
      },
      expected: invalidRequest(TOKEN_INVALID),
    },
    {
      name: 'a client not registered for token exchange',
      overrides: { client: 'no-exchange' },
      expected: {
        status: 400,
        error: 'unauthorized_client',
        error_description: 'the client is not allowed to use this grant type',
      },
    },
    {
      name: 'an unknown parent task',
      overrides: { params: { parent_task_id: NO_SUCH_TASK } },
      expected: invalidRequest(TOKEN_INVALID),
    },
    {
      name: 'a parent task of another person',
      overrides: async () => {
        const { task } = await startTask(server.url)
        return { params: { subject_token: await personToken({ sub: 'bob' }), parent_task_id: task.task_id } }
      },
      expected: invalidRequest(TOKEN_INVALID),
    },
    {
      name: 'a parent task the client may not work on',
      overrides: async () => {
        const { task, alice } = await startTask(server.url)
        return { client: 'impersonator', params: { subject_token: alice, parent_task_id: task.task_id } }
      },
      expected: invalidRequest(TOKEN_INVALID),
    },
    {
      name: 'a subtask wider than its parent (scope)',
      overrides: async () => {
        const { task, alice } = await startTask(server.url, { params: { scope: 'tickets:read' } })
        return { params: { subject_token: alice, scope: 'tickets:write', parent_task_id: task.task_id } }
      },
      expected: invalidScope,
    },
    {
      name: 'a subtask wider than its parent (resource)',
      overrides: async () => {
        const alice = await personToken({ scope: 'tickets:read notes:read' })
        const { task } = await startTask(server.url, { alice })
        return { params: { subject_token: alice, resource: 'https://notes.test/', parent_task_id: task.task_id } }
      },
      expected: invalidTarget,
    },
    {
      name: 'a body that is neither form nor JSON',
      overrides: { headers: { 'content-type': 'text/plain' }, body: 'hello' },
      expected: invalidRequest('request body must be application/x-www-form-urlencoded or application/json'),
    },
  ]

  it.each(titled(refusals))('refuses %s', async (_, { overrides, expected }) => {
    await expectRefused(t.db, await taskRequest(server.url, overrides), expected)
  })
})

describe('task ownership', () => {
  it('hides a task from every client but its agent and admins (404), for reading and completing', async () => {
    const { task } = await startTask(server.url)
    const notFound = { status: 404, error: 'not_found', error_description: 'task not found' }
    const before = await writtenRows(t.db)
    await expectRejection(await tasksCall(server.url, 'agent-two', `/tasks/${task.task_id}`), notFound)
    await expectRejection(await tasksCall(server.url, 'agent-two', `/tasks/${task.task_id}/complete`, {}), notFound)
    await expectRejection(await tasksCall(server.url, 'agent-two', '/tasks/not-a-uuid'), notFound)
    await expectRejection(
      await tasksCall(server.url, 'agent-one', '/tasks/00000000-0000-4000-8000-000000000000'),
      notFound,
    )
    expect(await writtenRows(t.db)).toEqual(before)
    expect((await (await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}`)).json()) as object).toMatchObject(
      { status: 'active' },
    )
    const byAdmin = await tasksCall(server.url, 'mandate-admin', `/tasks/${task.task_id}/complete`, {
      outcome: 'cancelled',
    })
    expect(await byAdmin.json()).toMatchObject({ status: 'completed', outcome: 'cancelled' })
  })

  it('answers 401 to a failed client authentication when reading or completing, and changes nothing', async () => {
    const { task } = await startTask(server.url)
    const before = await writtenRows(t.db)
    const unauthenticated = { status: 401, error: 'invalid_client', error_description: 'client authentication failed' }
    for (const call of [
      () =>
        tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}`, undefined, { secret: 'wrong-secret-0000000000' }),
      () =>
        tasksCall(
          server.url,
          'agent-one',
          `/tasks/${task.task_id}/complete`,
          {},
          { secret: 'wrong-secret-0000000000' },
        ),
    ]) {
      const response = await call()
      await expectRejection(response, unauthenticated)
      expect(response.headers.get('www-authenticate')).toBe('Basic realm="mandate"')
    }
    expect(await writtenRows(t.db)).toEqual(before)
    expect(await (await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}`)).json()).toMatchObject({
      status: 'active',
    })
  })

  it('refuses an unknown outcome and changes nothing', async () => {
    const { task } = await startTask(server.url)
    const before = await writtenRows(t.db)
    await expectRejection(
      await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}/complete`, { outcome: 'great' }),
      invalidRequest('outcome must be succeeded, failed or cancelled'),
    )
    expect(await writtenRows(t.db)).toEqual(before)
    expect(await (await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}`)).json()).toMatchObject({
      status: 'active',
    })
  })
})

describe('exchanges naming a task they may not use', () => {
  const taskInvalid = { ...invalidRequest(TOKEN_INVALID), reason: 'task.invalid' }

  it.each(
    titled([
      {
        name: 'an unknown task',
        overrides: async () => ({ params: { subject_token: await personToken(), task_id: NO_SUCH_TASK } }),
        expected: taskInvalid,
      },
      {
        name: 'a task id that is not even a uuid',
        overrides: async () => ({ params: { subject_token: await personToken(), task_id: 'task-42' } }),
        expected: taskInvalid,
      },
      {
        name: 'a task of another person',
        overrides: async () => ({
          params: {
            subject_token: await personToken({ sub: 'bob' }),
            task_id: (await startTask(server.url)).task.task_id,
          },
        }),
        expected: taskInvalid,
      },
      {
        name: 'a task of another agent',
        overrides: async () => ({
          client: 'impersonator',
          params: { subject_token: await personToken(), task_id: (await startTask(server.url)).task.task_id },
        }),
        expected: taskInvalid,
      },
      {
        name: 'a completed task',
        overrides: async () => {
          const { task, alice } = await startTask(server.url)
          await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}/complete`, {})
          return { params: { subject_token: alice, task_id: task.task_id } }
        },
        expected: taskInvalid,
      },
    ]),
  )('refuses %s with the invalid-token answer', async (_, { overrides, expected }) => {
    await expectRefused(t.db, await exchangeRequest(server.url, overrides), expected)
  })

  it('refuses a resource the task does not cover (invalid_target)', async () => {
    const { task, alice } = await startTask(server.url)
    const send = await exchangeRequest(server.url, {
      params: { subject_token: alice, resource: 'https://notes.test/', task_id: task.task_id },
    })
    await expectRefused(t.db, send, { ...invalidTarget, reason: 'target.not_in_task' })
  })

  it('caps the exchange by the task scope', async () => {
    const { task, alice } = await startTask(server.url, { params: { scope: 'tickets:read' } })
    await expectRejection(
      await exchange(server.url, 'agent-one', {
        subject_token: alice,
        resource: tickets,
        scope: 'tickets:write',
        task_id: task.task_id,
      }),
      invalidScope,
    )
    const token = await exchanged(server.url, 'agent-one', {
      subject_token: alice,
      resource: tickets,
      task_id: task.task_id,
    })
    expect(token).toBeTruthy()
  })
})
