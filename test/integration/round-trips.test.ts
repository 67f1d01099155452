// Postgres round trips per request on the hot paths, counted (never timed): a change that adds one fails
// here, and one that saves one updates the number (docs/performance.md). Counted in this process, where
// the app's pool runs, at the pg client every query goes through.
import { describe, expect, it } from 'vitest'
import { useDatabase } from '../support/database.ts'
import { evaluate } from '../support/evaluate.ts'
import { accessToken, exchange, introspect } from '../support/oauth.ts'
import { useServer } from '../support/server.ts'
import { statementsOf } from '../support/statements.ts'
import { startTask } from '../support/tasks.ts'

const t = useDatabase()
const server = useServer(t)
const tickets = 'https://tickets.test/'

/** The queries the request sent while `work` ran (the process's own timers left out). */
const queriesOf = async (work: () => Promise<unknown>): Promise<string[]> => (await statementsOf(work)).statements

const generationReads = (queries: string[]) => queries.filter((q) => q.includes('config_generation')).length

describe.runIf(t.isPostgres)('round trips per request', () => {
  it('client_credentials: the configuration generation and the lineage row', async () => {
    await accessToken(server.url, 'agent-one', { resource: tickets }) // the catalog is loaded
    const queries = await queriesOf(() => accessToken(server.url, 'agent-one', { resource: tickets }))
    expect(generationReads(queries)).toBe(1)
    expect(queries).toHaveLength(2)
  })

  it('introspection: the generation and the token with its activity', async () => {
    const token = await accessToken(server.url, 'agent-one', { resource: tickets })
    const queries = await queriesOf(async () =>
      expect(await introspect(server.url, token)).toMatchObject({ active: true }),
    )
    expect(generationReads(queries)).toBe(1)
    expect(queries).toHaveLength(2)
  })

  it('a refused exchange: the generation, the subject token, and its decision record with its audit event', async () => {
    const subject = await accessToken(server.url, 'alice-app', { scope: 'tickets:read' })
    const queries = await queriesOf(async () =>
      expect(
        (await exchange(server.url, 'agent-one', { subject_token: subject, resource: tickets, scope: 'tickets:write' }))
          .status,
      ).toBe(400),
    )
    expect(queries).toHaveLength(3)
  })

  it('an exchange (generation, subject token, one write), and one for a task (the task with its path liveness, one write)', async () => {
    const subject = await accessToken(server.url, 'alice-app', { scope: 'tickets:read tickets:write' })
    const plain = await queriesOf(async () =>
      expect((await exchange(server.url, 'agent-one', { subject_token: subject, resource: tickets })).status).toBe(200),
    )
    expect(generationReads(plain)).toBe(1)
    expect(plain).toHaveLength(3)

    const { task, alice } = await startTask(server.url)
    const task_id = task.task_id
    const forTask = await queriesOf(async () =>
      expect(
        (await exchange(server.url, 'agent-one', { subject_token: alice, resource: tickets, task_id })).status,
      ).toBe(200),
    )
    expect(generationReads(forTask)).toBe(1)
    expect(forTask).toHaveLength(3)
  })

  it('an evaluation: the generation, the token with its task, the record; once its facts are known, the generation and one statement', async () => {
    const token = await accessToken(server.url, 'agent-two', { resource: tickets, scope: 'tickets:read' })
    const ask = async () =>
      expect(await evaluate(server.url, { token, action: 'tickets.read' })).toMatchObject({ decision: true })
    const first = await queriesOf(ask)
    expect(generationReads(first)).toBe(1)
    expect(first).toHaveLength(3)
    const next = await queriesOf(ask)
    expect(generationReads(next)).toBe(1)
    expect(next).toHaveLength(2)
  })
})
