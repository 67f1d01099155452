// Every refusal of the tasks API (status, body, nothing written), ownership, and exchanges that
// name a task they may not use.
import { describe, expect, it } from 'vitest'
import { TOKEN_INVALID } from '../../src/token-exchange/denials.ts'
import { useDatabase } from '../support/database.ts'
import { personToken } from '../support/idp.ts'
import { ACCESS_TOKEN, exchange, exchanged, expectRejection, type Params, tasksCall } from '../support/oauth.ts'
import { useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)
const tickets = 'https://tickets.test/'

const rows = async () => ({
  tasks: (await t.db.selectFrom('tasks').select('task_id').execute()).length,
  audit: (await t.db.selectFrom('audit_events').select('event_id').execute()).length,
  tokens: (await t.db.selectFrom('issued_tokens').select('jti').execute()).length,
})

async function newTask(clientId = 'agent-one', extra: Params = {}) {
  const alice = await personToken({ scope: 'tickets:read tickets:write' })
  const response = await tasksCall(server.url, clientId, '/tasks', {
    subject_token: alice,
    subject_token_type: ACCESS_TOKEN,
    purpose: 'p',
    resource: tickets,
    ...extra,
  })
  expect(response.status).toBe(201)
  return { task: (await response.json()) as { task_id: string }, alice }
}

const invalidRequest = (error_description: string) => ({ status: 400, error: 'invalid_request', error_description })
const invalidTarget = {
  status: 400,
  error: 'invalid_target',
  error_description: 'the resource is missing, unknown or not allowed for this client',
}

describe('POST /tasks refusals change nothing', () => {
  const cases: Array<
    [string, () => Promise<() => Promise<Response>>, { status: number; error: string; error_description: string }]
  > = [
    [
      'a failed client authentication',
      async () => {
        const alice = await personToken()
        return () =>
          tasksCall(
            server.url,
            'agent-one',
            '/tasks',
            { subject_token: alice, subject_token_type: ACCESS_TOKEN, purpose: 'p', resource: tickets },
            { secret: 'wrong-secret-0000000000' },
          )
      },
      { status: 401, error: 'invalid_client', error_description: 'client authentication failed' },
    ],
    [
      'no client authentication at all',
      async () => () =>
        fetch(`${server.url}/tasks`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'purpose=p',
        }),
      { status: 401, error: 'invalid_client', error_description: 'client authentication failed' },
    ],
    [
      'a missing purpose',
      async () => {
        const alice = await personToken()
        return () =>
          tasksCall(server.url, 'agent-one', '/tasks', {
            subject_token: alice,
            subject_token_type: ACCESS_TOKEN,
            resource: tickets,
          })
      },
      invalidRequest('purpose is required (1 to 1000 characters)'),
    ],
    [
      'a purpose over 1000 characters',
      async () => {
        const alice = await personToken()
        return () =>
          tasksCall(server.url, 'agent-one', '/tasks', {
            subject_token: alice,
            subject_token_type: ACCESS_TOKEN,
            purpose: 'x'.repeat(1001),
            resource: tickets,
          })
      },
      invalidRequest('purpose is required (1 to 1000 characters)'),
    ],
    [
      'a missing subject_token',
      async () => () => tasksCall(server.url, 'agent-one', '/tasks', { purpose: 'p', resource: tickets }),
      invalidRequest(TOKEN_INVALID),
    ],
    [
      'an invalid subject_token',
      async () => () =>
        tasksCall(server.url, 'agent-one', '/tasks', {
          subject_token: 'x.y.z',
          subject_token_type: ACCESS_TOKEN,
          purpose: 'p',
          resource: tickets,
        }),
      invalidRequest(TOKEN_INVALID),
    ],
    [
      'an expired subject_token',
      async () => {
        const alice = await personToken({ expiresIn: -60 })
        return () =>
          tasksCall(server.url, 'agent-one', '/tasks', {
            subject_token: alice,
            subject_token_type: ACCESS_TOKEN,
            purpose: 'p',
            resource: tickets,
          })
      },
      invalidRequest(TOKEN_INVALID),
    ],
    [
      'no resource',
      async () => {
        const alice = await personToken()
        return () =>
          tasksCall(server.url, 'agent-one', '/tasks', {
            subject_token: alice,
            subject_token_type: ACCESS_TOKEN,
            purpose: 'p',
          })
      },
      invalidTarget,
    ],
    [
      'an unknown resource',
      async () => {
        const alice = await personToken()
        return () =>
          tasksCall(server.url, 'agent-one', '/tasks', {
            subject_token: alice,
            subject_token_type: ACCESS_TOKEN,
            purpose: 'p',
            resource: 'https://unknown.test/',
          })
      },
      invalidTarget,
    ],
    [
      'a resource without a token-exchange binding for the client',
      async () => {
        const alice = await personToken()
        return () =>
          tasksCall(server.url, 'agent-one', '/tasks', {
            subject_token: alice,
            subject_token_type: ACCESS_TOKEN,
            purpose: 'p',
            resource: 'https://other.test/api',
          })
      },
      invalidTarget,
    ],
    [
      'a scope beyond the policy path',
      async () => {
        const alice = await personToken({ scope: 'tickets:read tickets:write admin:all' })
        return () =>
          tasksCall(server.url, 'agent-one', '/tasks', {
            subject_token: alice,
            subject_token_type: ACCESS_TOKEN,
            purpose: 'p',
            resource: tickets,
            scope: 'admin:all',
          })
      },
      { status: 400, error: 'invalid_scope', error_description: 'the requested scope is not allowed' },
    ],
    [
      'a scope beyond the person token',
      async () => {
        const alice = await personToken({ scope: 'tickets:read' })
        return () =>
          tasksCall(server.url, 'agent-one', '/tasks', {
            subject_token: alice,
            subject_token_type: ACCESS_TOKEN,
            purpose: 'p',
            resource: tickets,
            scope: 'tickets:write',
          })
      },
      { status: 400, error: 'invalid_scope', error_description: 'the requested scope is not allowed' },
    ],
    [
      'a malformed expires_in',
      async () => {
        const alice = await personToken()
        return () =>
          tasksCall(server.url, 'agent-one', '/tasks', {
            subject_token: alice,
            subject_token_type: ACCESS_TOKEN,
            purpose: 'p',
            resource: tickets,
            expires_in: '-5',
          })
      },
      invalidRequest('expires_in must be a positive number of seconds'),
    ],
    [
      'a repeated purpose',
      async () => {
        const alice = await personToken()
        return () =>
          tasksCall(server.url, 'agent-one', '/tasks', {
            subject_token: alice,
            subject_token_type: ACCESS_TOKEN,
            purpose: ['a', 'b'],
            resource: tickets,
          })
      },
      invalidRequest("'purpose' parameter must not be provided twice"),
    ],
    [
      'a missing subject_token_type',
      async () => {
        const alice = await personToken()
        return () =>
          tasksCall(server.url, 'agent-one', '/tasks', { subject_token: alice, purpose: 'p', resource: tickets })
      },
      invalidRequest(TOKEN_INVALID),
    ],
    [
      'a subject_token_type that is not a token type of RFC 8693 we accept',
      async () => {
        const alice = await personToken()
        return () =>
          tasksCall(server.url, 'agent-one', '/tasks', {
            subject_token: alice,
            subject_token_type: 'urn:bogus',
            purpose: 'p',
            resource: tickets,
          })
      },
      invalidRequest(TOKEN_INVALID),
    ],
    ...(['subject_token', 'scope', 'parent_task_id', 'subject_token_type', 'expires_in'] as const).map(
      (name): (typeof cases)[number] => [
        `a repeated ${name}`,
        async () => {
          const alice = await personToken()
          const params: Params = {
            subject_token: alice,
            subject_token_type: ACCESS_TOKEN,
            purpose: 'p',
            resource: tickets,
            scope: 'tickets:read',
            expires_in: '60',
            parent_task_id: '00000000-0000-4000-8000-000000000000',
          }
          params[name] = [params[name] as string, params[name] as string]
          return () => tasksCall(server.url, 'agent-one', '/tasks', params)
        },
        invalidRequest(`'${name}' parameter must not be provided twice`),
      ],
    ),
    [
      'a purpose that is not a string (JSON)',
      async () => {
        const alice = await personToken()
        return () =>
          tasksCall(
            server.url,
            'agent-one',
            '/tasks',
            { subject_token: alice, subject_token_type: ACCESS_TOKEN, purpose: 42, resource: tickets } as never,
            { json: true },
          )
      },
      invalidRequest("'purpose' parameter must be a string"),
    ],
    [
      'a body that is not valid JSON',
      async () => () =>
        fetch(`${server.url}/tasks`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Basic ${Buffer.from('agent-one:agent-one-secret-0123456789').toString('base64')}`,
          },
          body: '{"purpose": ',
        }),
      invalidRequest('request body is not valid JSON'),
    ],
    [
      "a scope beyond the agent's policy path (the person and the resource would allow it)",
      async () => {
        const alice = await personToken({ scope: 'tickets:read tickets:write' })
        return () =>
          tasksCall(server.url, 'sub-agent', '/tasks', {
            subject_token: alice,
            subject_token_type: ACCESS_TOKEN,
            purpose: 'p',
            resource: tickets,
            scope: 'tickets:write',
          })
      },
      { status: 400, error: 'invalid_scope', error_description: 'the requested scope is not allowed' },
    ],
    [
      'a completed parent task',
      async () => {
        const { task, alice } = await newTask()
        expect((await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}/complete`, {})).status).toBe(200)
        return () =>
          tasksCall(server.url, 'agent-one', '/tasks', {
            subject_token: alice,
            subject_token_type: ACCESS_TOKEN,
            purpose: 'p',
            resource: tickets,
            parent_task_id: task.task_id,
          })
      },
      invalidRequest(TOKEN_INVALID),
    ],
    [
      'an expired parent task',
      async () => {
        const { task, alice } = await newTask('agent-one', { expires_in: '1' })
        await new Promise((resolve) => setTimeout(resolve, 1100))
        return () =>
          tasksCall(server.url, 'agent-one', '/tasks', {
            subject_token: alice,
            subject_token_type: ACCESS_TOKEN,
            purpose: 'p',
            resource: tickets,
            parent_task_id: task.task_id,
          })
      },
      invalidRequest(TOKEN_INVALID),
    ],
    [
      'a client not registered for token exchange',
      async () => {
        const alice = await personToken()
        return () =>
          tasksCall(server.url, 'no-exchange', '/tasks', {
            subject_token: alice,
            subject_token_type: ACCESS_TOKEN,
            purpose: 'p',
            resource: tickets,
          })
      },
      {
        status: 400,
        error: 'unauthorized_client',
        error_description: 'the client is not allowed to use this grant type',
      },
    ],
    [
      'an unknown parent task',
      async () => {
        const alice = await personToken()
        return () =>
          tasksCall(server.url, 'agent-one', '/tasks', {
            subject_token: alice,
            subject_token_type: ACCESS_TOKEN,
            purpose: 'p',
            resource: tickets,
            parent_task_id: '00000000-0000-4000-8000-000000000000',
          })
      },
      invalidRequest(TOKEN_INVALID),
    ],
    [
      'a parent task of another person',
      async () => {
        const { task } = await newTask()
        const bob = await personToken({ sub: 'bob' })
        return () =>
          tasksCall(server.url, 'agent-one', '/tasks', {
            subject_token: bob,
            subject_token_type: ACCESS_TOKEN,
            purpose: 'p',
            resource: tickets,
            parent_task_id: task.task_id,
          })
      },
      invalidRequest(TOKEN_INVALID),
    ],
    [
      'a parent task the client may not work on',
      async () => {
        const { task, alice } = await newTask()
        return () =>
          tasksCall(server.url, 'impersonator', '/tasks', {
            subject_token: alice,
            subject_token_type: ACCESS_TOKEN,
            purpose: 'p',
            resource: tickets,
            parent_task_id: task.task_id,
          })
      },
      invalidRequest(TOKEN_INVALID),
    ],
    [
      'a subtask wider than its parent (scope)',
      async () => {
        const { task, alice } = await newTask('agent-one', { scope: 'tickets:read' })
        return () =>
          tasksCall(server.url, 'agent-one', '/tasks', {
            subject_token: alice,
            subject_token_type: ACCESS_TOKEN,
            purpose: 'p',
            resource: tickets,
            scope: 'tickets:write',
            parent_task_id: task.task_id,
          })
      },
      { status: 400, error: 'invalid_scope', error_description: 'the requested scope is not allowed' },
    ],
    [
      'a subtask wider than its parent (resource)',
      async () => {
        const alice = await personToken({ scope: 'tickets:read notes:read' })
        const parent = await tasksCall(server.url, 'agent-one', '/tasks', {
          subject_token: alice,
          subject_token_type: ACCESS_TOKEN,
          purpose: 'p',
          resource: tickets,
        })
        const { task_id } = (await parent.json()) as { task_id: string }
        return () =>
          tasksCall(server.url, 'agent-one', '/tasks', {
            subject_token: alice,
            subject_token_type: ACCESS_TOKEN,
            purpose: 'p',
            resource: 'https://notes.test/',
            parent_task_id: task_id,
          })
      },
      invalidTarget,
    ],
    [
      'a body that is neither form nor JSON',
      async () => () =>
        fetch(`${server.url}/tasks`, {
          method: 'POST',
          headers: {
            'content-type': 'text/plain',
            authorization: `Basic ${Buffer.from('agent-one:agent-one-secret-0123456789').toString('base64')}`,
          },
          body: 'hello',
        }),
      invalidRequest('request body must be application/x-www-form-urlencoded or application/json'),
    ],
  ]

  it.each(cases)('refuses %s', async (_, setup, expected) => {
    const send = await setup()
    const before = await rows()
    const response = await send()
    await expectRejection(response, expected)
    expect(await rows()).toEqual(before)
    if (expected.status === 401) expect(response.headers.get('www-authenticate')).toBe('Basic realm="mandate"')
  })
})

describe('task ownership', () => {
  it('hides a task from every client but its agent and admins (404), for reading and completing', async () => {
    const { task } = await newTask()
    const notFound = { status: 404, error: 'not_found', error_description: 'task not found' }
    const before = await rows()
    await expectRejection(await tasksCall(server.url, 'agent-two', `/tasks/${task.task_id}`), notFound)
    await expectRejection(await tasksCall(server.url, 'agent-two', `/tasks/${task.task_id}/complete`, {}), notFound)
    await expectRejection(await tasksCall(server.url, 'agent-two', '/tasks/not-a-uuid'), notFound)
    await expectRejection(
      await tasksCall(server.url, 'agent-one', '/tasks/00000000-0000-4000-8000-000000000000'),
      notFound,
    )
    expect(await rows()).toEqual(before)
    expect((await (await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}`)).json()) as object).toMatchObject(
      { status: 'active' },
    )
    const byAdmin = await tasksCall(server.url, 'mandate-admin', `/tasks/${task.task_id}/complete`, {
      outcome: 'cancelled',
    })
    expect(await byAdmin.json()).toMatchObject({ status: 'completed', outcome: 'cancelled' })
  })

  it('answers 401 to a failed client authentication when reading or completing, and changes nothing', async () => {
    const { task } = await newTask()
    const before = await rows()
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
    expect(await rows()).toEqual(before)
    expect(await (await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}`)).json()).toMatchObject({
      status: 'active',
    })
  })

  it('refuses an unknown outcome and changes nothing', async () => {
    const { task } = await newTask()
    const before = await rows()
    await expectRejection(
      await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}/complete`, { outcome: 'great' }),
      invalidRequest('outcome must be succeeded, failed or cancelled'),
    )
    expect(await rows()).toEqual(before)
    expect(await (await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}`)).json()).toMatchObject({
      status: 'active',
    })
  })
})

describe('exchanges naming a task they may not use', () => {
  const reasonOf = async (response: Response) =>
    await t.db
      .selectFrom('decisions')
      .select(['reason', 'task_id'])
      .where('decision_id', '=', response.headers.get('x-decision-id') as string)
      .executeTakeFirstOrThrow()

  it.each([
    [
      'an unknown task',
      async () => ({
        task_id: '00000000-0000-4000-8000-000000000000',
        subject: await personToken(),
        client: 'agent-one',
      }),
    ],
    [
      'a task id that is not even a uuid',
      async () => ({ task_id: 'task-42', subject: await personToken(), client: 'agent-one' }),
    ],
    [
      'a task of another person',
      async () => ({
        task_id: (await newTask()).task.task_id,
        subject: await personToken({ sub: 'bob' }),
        client: 'agent-one',
      }),
    ],
    [
      'a task of another agent',
      async () => ({ ...(await newTask()).task, subject: await personToken(), client: 'impersonator' }),
    ],
    [
      'a completed task',
      async () => {
        const { task, alice } = await newTask()
        await tasksCall(server.url, 'agent-one', `/tasks/${task.task_id}/complete`, {})
        return { task_id: task.task_id, subject: alice, client: 'agent-one' }
      },
    ],
  ])('refuses %s with the invalid-token answer', async (_, setup) => {
    const { task_id, subject, client } = await setup()
    const before = (await rows()).tokens
    const response = await exchange(server.url, client, { subject_token: subject, resource: tickets, task_id })
    const decisionId = response.headers.get('x-decision-id')
    await expectRejection(response, invalidRequest(TOKEN_INVALID))
    expect((await rows()).tokens).toBe(before)
    expect(decisionId).toBeTruthy()
    expect(await reasonOf(response)).toMatchObject({ reason: 'task.invalid' })
  })

  it('refuses a resource the task does not cover (invalid_target)', async () => {
    const { task, alice } = await newTask()
    const response = await exchange(server.url, 'agent-one', {
      subject_token: alice,
      resource: 'https://notes.test/',
      task_id: task.task_id,
    })
    await expectRejection(response, invalidTarget)
    expect(await reasonOf(response)).toMatchObject({ reason: 'target.not_in_task' })
  })

  it('caps the exchange by the task scope', async () => {
    const { task, alice } = await newTask('agent-one', { scope: 'tickets:read' })
    await expectRejection(
      await exchange(server.url, 'agent-one', {
        subject_token: alice,
        resource: tickets,
        scope: 'tickets:write',
        task_id: task.task_id,
      }),
      {
        status: 400,
        error: 'invalid_scope',
        error_description: 'the requested scope is not allowed',
      },
    )
    const token = await exchanged(server.url, 'agent-one', {
      subject_token: alice,
      resource: tickets,
      task_id: task.task_id,
    })
    expect(token).toBeTruthy()
  })
})
