// A write the database refuses for a reason that is not our bug (SQLSTATE classes 08, 40, 53, 54, 55,
// 57, 58) is a 503 + Retry-After at every edge, and changes nothing; one it refuses because our
// statement is wrong (22, 23, 42, P0) stays a 500. A trigger raising the SQLSTATE stands in for the
// database (a serialization failure, a full disk, a lock timeout …) on the table each edge writes.
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { useDatabase } from '../support/database.ts'
import { personToken } from '../support/idp.ts'
import {
  ACCESS_TOKEN,
  accessToken,
  basic,
  clientCredentials,
  exchange,
  exchanged,
  introspect,
  post,
  revoke,
  secrets,
  TOKEN_EXCHANGE,
  tasksCall,
} from '../support/oauth.ts'
import { useServer } from '../support/server.ts'
import { startTask } from '../support/tasks.ts'

const t = useDatabase()
const server = useServer(t)
const tickets = 'https://tickets.test/'
const unavailable = {
  error: 'temporarily_unavailable',
  error_description: 'the authorization server is temporarily unavailable, retry later',
}
const OUTAGES = ['08006', '40001', '40P01', '53100', '54000', '55P03', '57014', '58030']
const BUGS = ['22001', '23505', '42P01', 'P0001']

beforeAll(async () => {
  await sql`create function test_refuse() returns trigger language plpgsql as $$
    begin
      raise exception 'refused by the test' using errcode = tg_argv[0];
    end
  $$`.execute(t.db)
})
afterAll(async () => {
  await sql`drop function if exists test_refuse() cascade`.execute(t.db)
})

/** Runs the request while `table` refuses `event` with `code`; the trigger is gone afterwards. */
async function refusing(
  table: string,
  event: 'insert' | 'update',
  code: string,
  request: () => Promise<Response>,
): Promise<{ status: number; retryAfter: string | null; body: unknown }> {
  await sql
    .raw(`create trigger test_refusal before ${event} on ${table} for each row execute function test_refuse('${code}')`)
    .execute(t.db)
  try {
    const response = await request()
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.json() }
  } finally {
    await sql.raw(`drop trigger test_refusal on ${table}`).execute(t.db)
  }
}

const count = async (table: 'tasks' | 'decisions' | 'issued_tokens') =>
  Number(
    (
      await t.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  )

/** Each edge: the request, the table and event that refuse it, and a check that nothing changed. */
const edges = {
  async revocation(code: string) {
    const token = await accessToken(server.url, 'agent-one')
    const answer = await refusing('issued_tokens', 'update', code, () => revoke(server.url, token, 'agent-one'))
    expect(await introspect(server.url, token)).toMatchObject({ active: true })
    return answer
  },
  async 'task completion'(code: string) {
    const { task_id: taskId } = (await startTask(server.url, { alice: await personToken({ scope: 'tickets:read' }) }))
      .task
    const answer = await refusing('tasks', 'update', code, () =>
      tasksCall(server.url, 'agent-one', `/tasks/${taskId}/complete`, { outcome: 'failed' }),
    )
    const row = await t.db.selectFrom('tasks').select('completed_at').where('task_id', '=', taskId).executeTakeFirst()
    expect(row?.completed_at).toBeNull()
    return answer
  },
  async 'task creation'(code: string) {
    const alice = await personToken({ scope: 'tickets:read' })
    const before = await count('tasks')
    const answer = await refusing('tasks', 'insert', code, () =>
      tasksCall(server.url, 'agent-one', '/tasks', {
        subject_token: alice,
        subject_token_type: ACCESS_TOKEN,
        purpose: 'Never created',
        resource: tickets,
      }),
    )
    expect(await count('tasks')).toBe(before)
    return answer
  },
  async 'denied exchange'(code: string) {
    const before = await count('decisions')
    const answer = await refusing('decisions', 'insert', code, () =>
      exchange(server.url, 'agent-one', { subject_token: 'not-a-token', resource: tickets }),
    )
    expect(await count('decisions')).toBe(before)
    return answer
  },
  // Runtime authorization: an evaluation answers only once its record is written, for a token seen for the
  // first time (read, then record) and for one seen before (activity read and record in one statement).
  async evaluation(code: string) {
    const alice = await personToken({ scope: 'tickets:read' })
    const { task_id } = (await startTask(server.url, { alice })).task
    const token = await exchanged(server.url, 'agent-one', { subject_token: alice, resource: tickets, task_id })
    const fresh = await exchanged(server.url, 'agent-one', { subject_token: alice, resource: tickets, task_id })
    const evaluation = (subject: string) =>
      fetch(`${server.url}/access/v1/evaluation`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: basic('rs-tickets', secrets['rs-tickets'] as string),
        },
        body: JSON.stringify({
          subject: { type: 'access_token', id: subject },
          resource: { type: tickets, id: 'ticket-1' },
          action: { name: 'tickets.read' },
        }),
      })
    expect((await evaluation(token)).status).toBe(200)
    const before = await count('decisions')
    const answers = [
      await refusing('decisions', 'insert', code, () => evaluation(token)),
      await refusing('decisions', 'insert', code, () => evaluation(fresh)),
    ]
    expect(await count('decisions')).toBe(before)
    expect(answers[1]).toEqual(answers[0])
    return answers[0] as Awaited<ReturnType<typeof refusing>>
  },
  // An authenticated client refused by oidc-provider before the grant runs (unauthorized_client) is still
  // a decision record (an unauthenticated one writes nothing at all).
  async 'exchange refused before the grant (a grant the client lacks)'(code: string) {
    const before = await count('decisions')
    const answer = await refusing('decisions', 'insert', code, () =>
      post(
        `${server.url}/token`,
        { grant_type: TOKEN_EXCHANGE, subject_token: 'x', subject_token_type: ACCESS_TOKEN, resource: tickets },
        { clientId: 'no-exchange' },
      ),
    )
    expect(await count('decisions')).toBe(before)
    return answer
  },
}

describe.runIf(t.isPostgres)('a write the database refuses', () => {
  describe.each(Object.entries(edges))('at the %s', (_edge, run) => {
    it.each(OUTAGES)('answers 503 + Retry-After for SQLSTATE %s and writes nothing', async (code) => {
      expect(await run(code)).toEqual({ status: 503, retryAfter: '5', body: unavailable })
    })

    it.each(BUGS)('answers 500 server_error for SQLSTATE %s (a bug, not an outage)', async (code) => {
      const answer = await run(code)
      expect({ status: answer.status, error: (answer.body as { error?: string }).error }).toEqual({
        status: 500,
        error: 'server_error',
      })
    })
  })

  it.each(OUTAGES)('withholds the token as 503 for SQLSTATE %s when the lineage row is refused', async (code) => {
    const before = await count('issued_tokens')
    const answer = await refusing('issued_tokens', 'insert', code, () =>
      clientCredentials(server.url, 'agent-one', { resource: tickets }),
    )
    expect(answer).toEqual({ status: 503, retryAfter: '5', body: unavailable })
    expect(await count('issued_tokens')).toBe(before)
  })
})
