// Replaying a candidate policy over the decision log (issue 13, POST /admin/v1/policy-paths:replay): a real log
// seeded by real exchanges and evaluations over HTTP, then decided again from each record's facts with the
// candidate in place of the live documents — narrowed, broadened, an actor or a binding removed, identical —
// and counted against what was decided. Nothing is written, by a replay or by a refusal.
import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import { beforeAll, describe, expect, it } from 'vitest'
import { rowCount, useDatabase, writtenRows } from '../support/database.ts'
import { evaluate } from '../support/evaluate.ts'
import { accessToken, exchange } from '../support/oauth.ts'
import { applyPath } from '../support/apply-path.ts'
import { useServer } from '../support/server.ts'
import { startTask } from '../support/tasks.ts'

const t = useDatabase()
const server = useServer(t)
const tickets = 'https://tickets.test/'
const TE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const AGENT_ONE = 'acme/support/agent-one'
const SUB_AGENT = 'acme/support/sub-agent'
let token: string
let since: string
/** The decision ids of the seeded log, by name. */
const ids: Record<string, string> = {}
let subjectToken: string
/** agent-one's token for alice-app on tickets (the first exchange of the log). */
let agentToken: string

type Doc = { apiVersion: string; kind: string; metadata: { name: string }; spec: Record<string, unknown> }
const live: Record<string, Doc> = {}

const replay = (body: unknown, options: { bearer?: string | null; type?: string } = {}) =>
  fetch(`${server.adminUrl}/admin/v1/policy-paths:replay`, {
    method: 'POST',
    headers: {
      ...(options.bearer === null ? {} : { authorization: `Bearer ${options.bearer ?? token}` }),
      'content-type': options.type ?? 'application/json',
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })

const withSpec = (doc: Doc, spec: Record<string, unknown>): Doc => ({ ...doc, spec: { ...doc.spec, ...spec } })

interface Report {
  replayed: number
  unchanged: number
  truncated: boolean
  newly_denied: { count: number; examples: Array<Record<string, unknown>> }
  newly_allowed: { count: number; examples: Array<Record<string, unknown>> }
  scope_changed: { count: number; examples: Array<Record<string, unknown>> }
  reason_changed: { count: number; examples: Array<Record<string, unknown>> }
  not_replayable: { count: number; reasons: Record<string, number> }
  live_differs: { count: number }
}

/** A replay's answer, after checking it wrote nothing. */
async function replayed(candidate: unknown): Promise<Report> {
  const before = { ...(await writtenRows(t.db)), versions: await rowCount(t.db, 'policy_path_versions') }
  const response = await replay({ candidate, since })
  const body = (await response.json()) as Report
  expect(response.status, JSON.stringify(body)).toBe(200)
  expect({ ...(await writtenRows(t.db)), versions: await rowCount(t.db, 'policy_path_versions') }).toEqual(before)
  return body
}

const decided = async (response: Response, name: string) => {
  ids[name] = response.headers.get('x-decision-id') as string
  return response
}

beforeAll(async () => {
  token = await accessToken(server.url, 'mandate-admin', { resource: 'urn:mandate:admin', scope: 'mandate:admin' })
  for (const name of [AGENT_ONE, SUB_AGENT]) {
    const response = await fetch(`${server.adminUrl}/admin/v1/policy-paths/${name}`, {
      headers: { authorization: `Bearer ${token}` },
    })
    live[name] = (await response.json()) as Doc
  }
  // Exchanges record their second: the log starts a second before the first.
  since = new Date(Math.floor(Date.now() / 1000) * 1000 - 1000).toISOString()
  subjectToken = await accessToken(server.url, 'alice-app', { scope: 'tickets:read tickets:write' })
  const alice = subjectToken
  // No scope asked for: everything the bounds allow (a narrowing keeps less; a requested scope it cuts is refused).
  const both = await decided(
    await exchange(server.url, 'agent-one', { subject_token: alice, resource: tickets }),
    'both',
  )
  const one = ((await both.json()) as { access_token: string }).access_token
  agentToken = one
  await decided(
    await exchange(server.url, 'agent-one', { subject_token: alice, resource: tickets, scope: 'tickets:write' }),
    'write',
  )
  // Refused by the decision: the subject token holds no notes scope.
  await decided(
    await exchange(server.url, 'agent-one', {
      subject_token: alice,
      resource: 'https://notes.test/',
      scope: 'notes:read',
    }),
    'notes',
  )
  await decided(await exchange(server.url, 'sub-agent', { subject_token: one, resource: tickets }), 'sub')
  await decided(
    await exchange(server.url, 'sub-agent', { subject_token: one, resource: tickets, scope: 'tickets:write' }),
    'subWrite',
  )
  // Refused before the decision: nothing to decide again.
  await decided(await exchange(server.url, 'agent-one', { subject_token: 'not-a-token', resource: tickets }), 'bad')
  const { task, alice: person } = await startTask(server.url)
  await decided(
    await exchange(server.url, 'agent-one', {
      subject_token: person,
      resource: tickets,
      task_id: task.task_id,
      scope: 'tickets:read',
    }),
    'task',
  )
  expect((await evaluate(server.url, { token: one, action: 'tickets.read' })).decision).toBe(true)
  expect((await evaluate(server.url, { token: 'not-a-token', action: 'tickets.read' })).decision).toBe(false)
  // A decision recorded before facts were kept (migration 0013).
  await sql`insert into decisions (decision_id, created_at, grant_type, client_id, result, reason)
    values (${randomUUID()}, now(), ${TE}, 'agent-one', 'allow', 'allowed')`.execute(t.db)
})

const outcomes = async () =>
  Object.fromEntries(
    (
      await t.db
        .selectFrom('decisions')
        .select(['decision_id', 'result', 'reason'])
        .where('decision_id', 'in', Object.values(ids))
        .execute()
    ).map((row) => [row.decision_id, `${row.result} ${row.reason}`]),
  )

describe('the decision log', () => {
  it('is what the seeding requests decided, each with its facts and never a token string', async () => {
    const byName = await outcomes()
    expect(Object.fromEntries(Object.entries(ids).map(([name, id]) => [name, byName[id]]))).toEqual({
      both: 'allow allowed',
      write: 'allow allowed',
      notes: 'deny scope.not_allowed',
      sub: 'allow allowed',
      subWrite: 'deny scope.not_allowed',
      bad: 'deny subject_token.invalid',
      task: 'allow allowed',
    })
    const rows = await t.db.selectFrom('decisions').select(['decision_id', 'kind', 'facts']).execute()
    const facts = rows.filter((row) => row.facts !== null)
    expect(facts).toHaveLength(8) // every decision the decision functions made: 6 exchanges, 2 evaluations
    expect(rows.find((row) => row.decision_id === ids.both)?.facts).toMatchObject({
      v: 1,
      client_id: 'agent-one',
      grant_type: TE,
      resource: [tickets],
      subject: { issuer: 'self', sub: 'alice-app', scope: ['tickets:read', 'tickets:write'], client_id: 'alice-app' },
      context: { confidential: true, client_scopes: expect.arrayContaining(['tickets:write']) },
    })
    const text = JSON.stringify(facts)
    // Compact: about a kilobyte at most (a task exchange with lineage), not a copy of its tokens.
    const size = await sql<{ largest: number }>`select max(pg_column_size(facts)) as largest from decisions`.execute(
      t.db,
    )
    expect(size.rows[0]?.largest).toBeLessThan(2_000)
    expect(text).not.toContain(subjectToken)
    expect(text).not.toContain('secret')
  })
})

describe('POST /admin/v1/policy-paths:replay', () => {
  it('changes nothing with the live documents as the candidate; rows without facts are not replayable', async () => {
    const report = await replayed([live[AGENT_ONE], live[SUB_AGENT]])
    const total = Number(
      (
        await sql<{ n: string }>`select count(*) as n from decisions where created_at >= ${new Date(since)}`.execute(
          t.db,
        )
      ).rows[0]?.n,
    )
    expect(report).toMatchObject({
      replayed: 8,
      unchanged: 8,
      truncated: false,
      newly_denied: { count: 0, examples: [] },
      newly_allowed: { count: 0, examples: [] },
      scope_changed: { count: 0, examples: [] },
      reason_changed: { count: 0, examples: [] },
      // The refusal made before the decision, and the row from before facts were kept.
      not_replayable: { count: 2, reasons: { no_facts: 2 } },
      live_differs: { count: 0 },
    })
    expect(report.replayed + report.not_replayable.count).toBe(total)
  })

  it('counts a narrowed scope: a grant that keeps less, and one left with nothing', async () => {
    const report = await replayed(
      withSpec(live[AGENT_ONE] as Doc, { scopes: ['tickets:read', 'notes:read', 'admin:all'] }),
    )
    expect(report.scope_changed).toEqual({
      count: 1,
      examples: [
        {
          decision_id: ids.both,
          created_at: expect.any(String),
          kind: 'issuance',
          client: 'agent-one',
          subject: 'alice-app',
          resources: [tickets],
          before: { result: 'allow', reason: 'allowed', scope: ['tickets:read', 'tickets:write'] },
          after: { result: 'allow', reason: 'allowed', scope: ['tickets:read'] },
        },
      ],
    })
    expect(report.newly_denied).toEqual({
      count: 1,
      examples: [
        expect.objectContaining({
          decision_id: ids.write,
          before: { result: 'allow', reason: 'allowed', scope: ['tickets:write'] },
          after: { result: 'deny', reason: 'scope.not_allowed', detail: 'tickets:write' },
        }),
      ],
    })
    expect(report).toMatchObject({ replayed: 8, unchanged: 6, newly_allowed: { count: 0 }, live_differs: { count: 0 } })
  })

  it('counts what removing an actor and a binding denies', async () => {
    const report = await replayed([
      withSpec(live[SUB_AGENT] as Doc, { delegation: { actors: ['agent-one', 'sub-sub-agent'] } }),
      withSpec(live[AGENT_ONE] as Doc, {
        bindings: [{ client: 'agent-one', resource: 'https://notes.test/', grantType: TE }],
      }),
    ])
    const denied = Object.fromEntries(
      report.newly_denied.examples.map((e) => [e.decision_id ?? e.kind, (e.after as { reason: string }).reason]),
    )
    // The tickets exchanges of agent-one and its token's evaluation lose their binding; the sub-agent its place.
    expect(report.newly_denied.count).toBe(5)
    expect(denied).toMatchObject({
      [ids.both as string]: 'target.not_bound',
      [ids.write as string]: 'target.not_bound',
      [ids.task as string]: 'target.not_bound',
      [ids.sub as string]: 'delegation.actor_not_allowed',
    })
    expect(report.newly_denied.examples).toContainEqual(
      expect.objectContaining({
        kind: 'evaluation',
        action: 'tickets.read',
        after: expect.objectContaining({ reason: 'action_not_allowed' }),
      }),
    )
    // Refused then for its scope, refused now for its actor.
    expect(report.reason_changed).toEqual({
      count: 1,
      examples: [
        expect.objectContaining({
          decision_id: ids.subWrite,
          before: { result: 'deny', reason: 'scope.not_allowed' },
          after: expect.objectContaining({ result: 'deny', reason: 'delegation.actor_not_allowed' }),
        }),
      ],
    })
    expect(report).toMatchObject({
      replayed: 8,
      unchanged: 2,
      newly_allowed: { count: 0 },
      scope_changed: { count: 0 },
    })
  })

  it('counts what a broadening allows', async () => {
    const report = await replayed(withSpec(live[SUB_AGENT] as Doc, { scopes: ['tickets:read', 'tickets:write'] }))
    expect(report.newly_allowed).toEqual({
      count: 1,
      examples: [
        expect.objectContaining({
          decision_id: ids.subWrite,
          client: 'sub-agent',
          before: { result: 'deny', reason: 'scope.not_allowed' },
          after: { result: 'allow', reason: 'allowed', scope: ['tickets:write'] },
        }),
      ],
    })
    expect(report.scope_changed).toEqual({
      count: 1,
      examples: [
        expect.objectContaining({
          decision_id: ids.sub,
          before: { result: 'allow', reason: 'allowed', scope: ['tickets:read'] },
          after: { result: 'allow', reason: 'allowed', scope: ['tickets:read', 'tickets:write'] },
        }),
      ],
    })
    expect(report).toMatchObject({ replayed: 8, unchanged: 6, newly_denied: { count: 0 } })
  })

  it('replays nothing since a time after the log, and says what the live policy already decides otherwise', async () => {
    const later = await replay({ candidate: live[AGENT_ONE], since: new Date(Date.now() + 60_000).toISOString() })
    expect(await later.json()).toMatchObject({ replayed: 0, unchanged: 0, not_replayable: { count: 0 } })
  })
})

describe('POST /admin/v1/policy-paths:replay of gated evaluations', () => {
  it('leaves the approval and rate gates to decide again, and counts what lifting or removing a rule changes', async () => {
    const rules = [
      { name: 'tickets.read', class: 'read' },
      { name: 'tickets.comment', class: 'write', rate: { max: 1, per: '1m' } },
    ]
    const spec = live[AGENT_ONE]?.spec as Record<string, unknown>
    await applyPath(
      t.db,
      AGENT_ONE,
      `  bindings:
    - { client: agent-one, resource: ${tickets}, grantType: ${TE} }
    - { client: agent-one, resource: https://notes.test/, grantType: ${TE} }
  scopes: ${JSON.stringify(spec.scopes)}
  tokenLifetime: 2m
  delegation: ${JSON.stringify(spec.delegation)}
  actions: ${JSON.stringify(rules)}
`,
    )
    const gateSince = new Date(Date.now() - 5).toISOString()
    // The first comment passes the rate; the second is refused by it.
    const first = await evaluate(server.url, { token: agentToken, action: 'tickets.comment' })
    const second = await evaluate(server.url, { token: agentToken, action: 'tickets.comment' })
    expect([first.decision, second.decision]).toEqual([true, false])
    const current = (await (
      await fetch(`${server.adminUrl}/admin/v1/policy-paths/${AGENT_ONE}`, {
        headers: { authorization: `Bearer ${token}` },
      })
    ).json()) as Doc
    const replayedSince = async (candidate: Doc) => {
      const response = await replay({ candidate, since: gateSince })
      expect(response.status).toBe(200)
      return (await response.json()) as Report
    }

    expect(await replayedSince(current)).toMatchObject({ replayed: 2, unchanged: 2, live_differs: { count: 0 } })
    const lifted = await replayedSince(
      withSpec(current, { actions: [rules[0], { name: 'tickets.comment', class: 'write' }] }),
    )
    expect(lifted).toMatchObject({
      replayed: 2,
      unchanged: 1,
      newly_allowed: {
        count: 1,
        examples: [
          expect.objectContaining({
            kind: 'evaluation',
            action: 'tickets.comment',
            before: { result: 'deny', reason: 'rate_exceeded' },
            after: { result: 'allow', reason: 'allowed' },
          }),
        ],
      },
    })
    const removed = await replayedSince(withSpec(current, { actions: [rules[0]] }))
    expect(removed).toMatchObject({
      replayed: 2,
      newly_denied: {
        count: 1,
        examples: [expect.objectContaining({ before: { result: 'allow', reason: 'allowed' } })],
      },
      reason_changed: {
        count: 1,
        examples: [
          expect.objectContaining({
            before: { result: 'deny', reason: 'rate_exceeded' },
            after: expect.objectContaining({ result: 'deny', reason: 'action_not_allowed' }),
          }),
        ],
      },
    })

    // The rule goes live: the version the comments were decided by, as a candidate, changes nothing, and the
    // answer says the live policy already decides both otherwise.
    await applyPath(
      t.db,
      AGENT_ONE,
      `  bindings:
    - { client: agent-one, resource: ${tickets}, grantType: ${TE} }
    - { client: agent-one, resource: https://notes.test/, grantType: ${TE} }
  scopes: ${JSON.stringify(spec.scopes)}
  delegation: ${JSON.stringify(spec.delegation)}
  actions: ${JSON.stringify([rules[0]])}
`,
    )
    expect(await replayedSince(current)).toMatchObject({ replayed: 2, unchanged: 2, live_differs: { count: 2 } })
  })
})

describe('POST /admin/v1/policy-paths:replay bounds', () => {
  it('replays the newest 10,000 decisions and says it left older ones out', async () => {
    // Rows from before facts were kept, made just now.
    await sql`insert into decisions (decision_id, created_at, grant_type, client_id, result, reason)
      select gen_random_uuid(), now(), ${TE}, 'agent-one', 'deny', 'scope.not_allowed'
      from generate_series(1, 10001) as n`.execute(t.db)
    // And the newest: facts of a shape this version does not read.
    await sql`insert into decisions (decision_id, created_at, grant_type, client_id, result, reason, facts)
      values (${randomUUID()}, clock_timestamp(), ${TE}, 'agent-one', 'allow', 'allowed', '{"v": 2}')`.execute(t.db)
    const report = await replayed(live[SUB_AGENT])
    expect(report.not_replayable.reasons).toEqual({ no_facts: 9_999, unreadable_facts: 1 })
    expect(report.truncated).toBe(true)
    expect(report.replayed + report.not_replayable.count).toBe(10_000)
  })
})

describe('POST /admin/v1/policy-paths:replay refusals write nothing', () => {
  async function refused(response: Response, status: number, title: string) {
    expect(response.status).toBe(status)
    expect(response.headers.get('content-type')).toContain('application/problem+json')
    const body = (await response.json()) as { findings?: Array<Record<string, unknown>> }
    expect(body).toMatchObject({ type: 'about:blank', title, status })
    return body
  }

  it('401 without an admin token', async () => {
    const before = await writtenRows(t.db)
    const response = await replay({ candidate: live[AGENT_ONE], since }, { bearer: null })
    expect(response.status).toBe(401)
    expect(await response.json()).toEqual({
      error: 'invalid_token',
      error_description: 'admin authentication is required',
    })
    expect(await writtenRows(t.db)).toEqual(before)
  })

  it('400 for a body that is not {candidate, since}', async () => {
    const before = await writtenRows(t.db)
    for (const [body, type] of [
      ['candidate=x', 'application/x-www-form-urlencoded'],
      ['{"candidate":', 'application/json'],
      [{ candidate: live[AGENT_ONE] }, undefined],
      [{ candidate: live[AGENT_ONE], since: 'yesterday' }, undefined],
      [{ candidate: live[AGENT_ONE], since: '2026-13-45T99:00:00Z' }, undefined],
      [{ since }, undefined],
      [{ candidate: [], since }, undefined],
      [{ candidate: 'acme', since }, undefined],
      [{ candidate: live[AGENT_ONE], since, until: since }, undefined],
    ] as Array<[unknown, string | undefined]>) {
      const response = await replay(body, type ? { type } : {})
      expect(response.status, JSON.stringify(body)).toBe(400)
      if (response.headers.get('content-type')?.includes('problem')) await refused(response, 400, 'Bad request')
    }
    expect(await writtenRows(t.db)).toEqual(before)
  })

  it('422 with the findings, at line and column, for an invalid candidate', async () => {
    const before = { ...(await writtenRows(t.db)), versions: await rowCount(t.db, 'policy_path_versions') }
    const body = await refused(
      await replay({ candidate: withSpec(live[AGENT_ONE] as Doc, { scopes: 'tickets:read' }), since }),
      422,
      'Invalid document',
    )
    expect(body.findings?.[0]).toMatchObject({
      severity: 'error',
      code: 'schema',
      path: '/spec/scopes',
      line: expect.any(Number),
      column: expect.any(Number),
    })
    const unknown = await refused(
      await replay({
        candidate: withSpec(live[SUB_AGENT] as Doc, {
          bindings: [{ client: 'nobody', resource: tickets, grantType: TE }],
        }),
        since,
      }),
      422,
      'Invalid document',
    )
    expect(unknown.findings).toContainEqual(expect.objectContaining({ severity: 'error', code: 'reference' }))
    const twice = await refused(
      await replay({ candidate: [live[SUB_AGENT], live[SUB_AGENT]], since }),
      422,
      'Invalid document',
    )
    expect(twice.findings).toEqual([
      expect.objectContaining({ code: 'reference', message: `PolicyPath/${SUB_AGENT} is also defined at request:1` }),
    ])
    // Only policy paths are replayed: another kind of document, valid as it is, is not a candidate.
    const resource = {
      apiVersion: 'mandate/v1',
      kind: 'Resource',
      metadata: { name: 'extra' },
      spec: { uri: 'https://extra.test/', scopes: ['extra:read'] },
    }
    const other = await refused(
      await replay({ candidate: [live[SUB_AGENT], resource], since }),
      422,
      'Invalid document',
    )
    expect(other.findings).toEqual([
      { severity: 'error', code: 'not_a_policy_path', message: 'only PolicyPath documents', path: '/1' },
    ])
    expect({ ...(await writtenRows(t.db)), versions: await rowCount(t.db, 'policy_path_versions') }).toEqual(before)
  })
})
