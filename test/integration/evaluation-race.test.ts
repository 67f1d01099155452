// A task completion, and an RFC 7009 revocation, racing a storm of evaluations of the tokens they end. Once
// `complete` (or `revoke`) has returned, no evaluation sent afterwards answers true; one in flight meanwhile
// may answer either way, but every true has its decision record committed when it arrives. The overlap is
// made real, not left to timing (as task-race.test.ts does): a lock the test holds stops the completion (or
// the revocation) at its write while evaluations keep answering true; then it lets go. Rounds run free too.
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyAgentOneActions, applyPath } from '../support/apply-path.ts'
import { useDatabase } from '../support/database.ts'
import { callAccess, evaluationBody } from '../support/evaluate.ts'
import { exchanged, jtiOf, revoke, tasksCall } from '../support/oauth.ts'
import { useServer } from '../support/server.ts'
import { startTask } from '../support/tasks.ts'

// Rated evaluations each hold a connection for their transaction; they queue for one on a loaded machine
// (bounded by the 60 s timeout), while the gate and the watcher have connections of their own.
const t = useDatabase({ poolSize: 20, timeout: 60 })
const server = useServer(t)
const tickets = 'https://tickets.test/'
const TE = 'urn:ietf:params:oauth:grant-type:token-exchange'
/** Evaluations in flight at once, and how many a storm sends at least, before and after the end. */
const WORKERS = 40
const TOTAL = 200
const AFTER_END = 60

let gate: pg.Client | undefined
let watcher: pg.Client | undefined
beforeAll(async () => {
  // Reads pass on scope and rule; comments pass a rate too, so they take the transactional path (gates.ts).
  await applyAgentOneActions(
    t.db,
    `
    - { name: tickets.read, class: read }
    - { name: tickets.comment, class: write, rate: { max: 1000000, per: 1m } }
`,
  )
  await applyPath(
    t.db,
    'acme/support/sub-agent',
    `  bindings:
    - { client: sub-agent, resource: ${tickets}, grantType: ${TE} }
  scopes: [tickets:read]
  delegation: { actors: [agent-one, sub-agent] }
  actions:
    - { name: tickets.read, class: read }
`,
  )
  if (!t.url) return
  gate = new pg.Client({ connectionString: t.url })
  watcher = new pg.Client({ connectionString: t.url })
  await Promise.all([gate.connect(), watcher.connect()])
})
afterAll(async () => {
  await Promise.all([gate?.end(), watcher?.end()])
})

interface Ask {
  name: string
  token: string
  action: string
}

/**
 * A task of alice's with a subtask; agent-one's token for each, and the sub-agent's token exchanged from
 * the task's (one chain deeper, a descendant of it). Every ask answers true while the task is live.
 */
async function taskTree() {
  const { task, alice } = await startTask(server.url, { params: { scope: 'tickets:read tickets:write' } })
  const { task: subtask } = await startTask(server.url, {
    alice,
    params: { scope: 'tickets:read tickets:write', parent_task_id: task.task_id },
  })
  const root = await exchanged(server.url, 'agent-one', {
    subject_token: alice,
    resource: tickets,
    task_id: task.task_id,
  })
  const sub = await exchanged(server.url, 'sub-agent', {
    subject_token: root,
    resource: tickets,
    scope: 'tickets:read',
  })
  const part = await exchanged(server.url, 'agent-one', {
    subject_token: alice,
    resource: tickets,
    task_id: subtask.task_id,
  })
  // Another token of the task, of alice's own subject token: no descendant of `root`.
  const sibling = await exchanged(server.url, 'agent-one', {
    subject_token: alice,
    resource: tickets,
    task_id: task.task_id,
  })
  const asks = (name: string, token: string, actions = ['tickets.read', 'tickets.comment']): Ask[] =>
    actions.map((action) => ({ name, token, action }))
  const tree = {
    taskId: task.task_id,
    root: asks('root', root),
    sub: asks('sub', sub, ['tickets.read']),
    part: asks('subtask', part),
    sibling: asks('sibling', sibling),
  }
  for (const ask of [...tree.root, ...tree.sub, ...tree.part, ...tree.sibling])
    expect({ ask: ask.name, answer: (await evaluateOnce(ask)).decision }).toEqual({ ask: ask.name, answer: true })
  return tree
}

interface Answer extends Ask {
  /** Sent once the completion (or revocation) had returned to the test. */
  after: boolean
  decision: boolean
  reason: string | undefined
  decisionId: string
  /** For a true: the record's result, read as soon as the answer arrived. */
  recorded?: string | undefined
}

async function evaluateOnce(ask: Ask) {
  const answer = await callAccess(server.url, 'evaluation', evaluationBody({ token: ask.token, action: ask.action }))
  expect(answer.status, JSON.stringify(answer.body)).toBe(200)
  const context = answer.body.context as { decision_id: string; reason?: string }
  expect(answer.decisionId).toBe(context.decision_id)
  return { decision: answer.body.decision as boolean, reason: context.reason, decisionId: context.decision_id }
}

const recordOf = (decisionId: string) =>
  t.db.selectFrom('decisions').select('result').where('decision_id', '=', decisionId).executeTakeFirst()

/**
 * WORKERS loops evaluating the asks in turn until TOTAL are sent and AFTER_END of them were sent once
 * `ended()` (read as each is sent). Each true's record is read the moment it arrives.
 */
function storm(asks: Ask[], ended: () => boolean) {
  const answers: Answer[] = []
  let sent = 0
  let sentAfter = 0
  const worker = async () => {
    while (sent < TOTAL || sentAfter < AFTER_END) {
      if (sent > 20 * TOTAL) throw new Error('the end never came: the storm stops')
      const ask = asks[sent % asks.length] as Ask
      const after = ended()
      sent++
      if (after) sentAfter++
      const answer: Answer = { ...ask, after, ...(await evaluateOnce(ask)) }
      if (answer.decision) answer.recorded = (await recordOf(answer.decisionId))?.result
      answers.push(answer)
    }
  }
  return { answers, done: Promise.all(Array.from({ length: WORKERS }, worker)) }
}

/** The property: nothing sent after the end answers true; every true was recorded as an allow. */
async function expectEnded(answers: Answer[], ended: (ask: Answer) => boolean) {
  const summary = (answer: Answer) => `${answer.name} ${answer.action} ${answer.after ? 'after' : 'during'}`
  for (const answer of answers) {
    if (answer.decision)
      expect({ ask: summary(answer), recorded: answer.recorded }).toEqual({ ask: summary(answer), recorded: 'allow' })
    if (answer.after && ended(answer))
      expect({ ask: summary(answer), decision: answer.decision, reason: answer.reason }).toEqual({
        ask: summary(answer),
        decision: false,
        reason: 'token_inactive',
      })
  }
  // Every answer, true or false, has its record, with the action and the token asked about.
  const rows = await t.db
    .selectFrom('decisions')
    .select(['decision_id', 'result', 'action', 'subject_ref'])
    .where((eb) => eb('decision_id', '=', eb.fn.any(eb.val(answers.map((a) => a.decisionId)))))
    .execute()
  const byId = new Map(rows.map((row) => [row.decision_id, row]))
  for (const answer of answers)
    expect(byId.get(answer.decisionId)).toEqual({
      decision_id: answer.decisionId,
      result: answer.decision ? 'allow' : 'deny',
      action: answer.action,
      subject_ref: jtiOf(answer.token),
    })
  expect(answers.filter((a) => a.after && ended(a)).length).toBeGreaterThanOrEqual(AFTER_END / 2)
}

const complete = (taskId: string) =>
  tasksCall(server.url, 'agent-one', `/tasks/${taskId}/complete`, { outcome: 'cancelled' }).then(async (r) => ({
    status: r.status,
    body: (await r.json()) as { status: string; revoked_tokens: number },
  }))

async function lockWaiters(): Promise<number> {
  const { rows } = await (watcher as pg.Client).query<{ n: string }>(
    `select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
  )
  return Number(rows[0]?.n)
}

async function until(done: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`not reached within 30 s: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe.skipIf(!t.isPostgres)('evaluations racing the end of their tokens', { timeout: 120_000 }, () => {
  it('a completion held at the task: evaluations answer true (recorded) until it commits, none sent after it returned', async () => {
    const tree = await taskTree()
    const client = gate as pg.Client
    await client.query('begin')
    await client.query('select 1 from tasks where task_id = $1 for update', [tree.taskId])
    let returned = false
    const completion = complete(tree.taskId).then((result) => {
      returned = true
      return result
    })
    await until(async () => (await lockWaiters()) >= 1, 'the completion waits for the task row')
    const { answers, done } = storm([...tree.root, ...tree.sub, ...tree.part, ...tree.sibling], () => returned)
    // The completion has begun and not committed: the tokens are live, and say so.
    await until(() => answers.length >= WORKERS * 2, `${WORKERS * 2} answers while the completion waits`)
    const during = answers.slice()
    await client.query('commit')
    const completed = await completion
    await done
    expect(completed).toMatchObject({ status: 200, body: { status: 'completed', revoked_tokens: 4 } })
    expect(during.every((a) => a.decision && !a.after)).toBe(true)
    await expectEnded(answers, () => true)
  })

  it('a completion and evaluations run free: the same property (3 rounds)', async () => {
    for (let round = 0; round < 3; round++) {
      const tree = await taskTree()
      let returned = false
      const { answers, done } = storm([...tree.root, ...tree.sub, ...tree.part], () => returned)
      await until(() => answers.length >= WORKERS * round, 'the storm has begun')
      const completed = await complete(tree.taskId)
      returned = true
      await done
      expect(completed.status).toBe(200)
      await expectEnded(answers, () => true)
    }
  })

  it('a revocation by the holder, held at the token: the token and its descendant end, another token of the task does not', async () => {
    const tree = await taskTree()
    const client = gate as pg.Client
    const rootJti = jtiOf(tree.root[0]?.token as string)
    await client.query('begin')
    await client.query('select 1 from issued_tokens where jti = $1 for update', [rootJti])
    let returned = false
    const revocation = revoke(server.url, tree.root[0]?.token as string, 'agent-one').then((response) => {
      returned = true
      return response.status
    })
    await until(async () => (await lockWaiters()) >= 1, 'the revocation waits for the token row')
    const { answers, done } = storm([...tree.root, ...tree.sub, ...tree.sibling], () => returned)
    await until(() => answers.length >= WORKERS * 2, `${WORKERS * 2} answers while the revocation waits`)
    const during = answers.slice()
    await client.query('commit')
    expect(await revocation).toBe(200)
    await done
    expect(during.every((a) => a.decision && !a.after)).toBe(true)
    const ended = (a: Answer) => a.name === 'root' || a.name === 'sub'
    await expectEnded(answers, ended)
    // The revocation ends that token's subtree only: the sibling answered true throughout.
    expect(answers.filter((a) => !ended(a)).every((a) => a.decision)).toBe(true)
  })

  it('a revocation and evaluations run free: the same property (3 rounds)', async () => {
    for (let round = 0; round < 3; round++) {
      const tree = await taskTree()
      let returned = false
      const { answers, done } = storm([...tree.root, ...tree.sub, ...tree.sibling], () => returned)
      await until(() => answers.length >= WORKERS * round, 'the storm has begun')
      expect((await revoke(server.url, tree.root[0]?.token as string, 'agent-one')).status).toBe(200)
      returned = true
      await done
      const ended = (a: Answer) => a.name === 'root' || a.name === 'sub'
      await expectEnded(answers, ended)
      expect(answers.filter((a) => !ended(a)).every((a) => a.decision)).toBe(true)
    }
  })
})
