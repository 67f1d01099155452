// The janitor prunes expired rows past their retention, on one process at a time, and never a row
// the read-time activity rule still needs: a revoked ancestor or actor token keeps ending what depends
// on it. Decisions and audit events are kept unless a retention is set; the audit trail stays
// append-only for everyone else.
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { promisify } from 'node:util'
import { sql } from 'kysely'
import pg from 'pg'
import { beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config/load.ts'
import { type JanitorSettings, runJanitor } from '../../src/janitor/janitor.ts'
import { toDate } from '../../src/lib/clock.ts'
import { findActiveToken } from '../../src/lineage/tokens.ts'
import { createLog } from '../../src/observability/log.ts'
import { useDatabase } from '../support/database.ts'
import { accessToken, introspect } from '../support/oauth.ts'
import { TEST_MASTER_KEY, useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)
const HOUR = 3600
const DAY = 86400
const now = Math.floor(Date.now() / 1000)
const clock = { now: () => now }
const quiet = { warn: () => {}, info: () => {} }
const settings: JanitorSettings = { interval: 0, tokenRetention: HOUR, webhookRetention: 7 * DAY }
const janitor = (overrides: Partial<JanitorSettings> = {}) =>
  runJanitor({ db: t.db, clock, settings: { ...settings, ...overrides }, clockTolerance: 15, log: quiet })

let kid: string
beforeAll(async () => {
  await accessToken(server.url, 'agent-one') // a signing key exists from here on
  kid = (await t.db.selectFrom('signing_keys').select('kid').executeTakeFirstOrThrow()).kid
})

const tokens = new Map<string, { ancestors: string[] }>()
/** A lineage row whose expiry is `expires` seconds from now (negative: expired that long ago). */
async function token(
  name: string,
  expires: number,
  options: { parent?: string; dependsOn?: string[]; revoked?: boolean } = {},
): Promise<string> {
  const jti = `${name}-${randomUUID()}`
  const parent = options.parent ? tokens.get(options.parent) : undefined
  const ancestors = parent && options.parent ? [...parent.ancestors, options.parent] : []
  tokens.set(jti, { ancestors })
  await t.db
    .insertInto('issued_tokens')
    .values({
      jti,
      kid,
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      client_id: 'agent-one',
      sub: 'alice',
      aud: ['https://tickets.test/'],
      issued_at: toDate(now + expires - 300),
      expires_at: toDate(now + expires),
      parent_jti: options.parent ?? null,
      ancestors,
      depends_on: options.dependsOn ?? [],
      revoked_at: options.revoked ? toDate(now + expires - 200) : null,
    })
    .execute()
  return jti
}

async function remaining(jtis: string[]): Promise<string[]> {
  const rows = await t.db.selectFrom('issued_tokens').select('jti').where('jti', 'in', jtis).execute()
  return jtis.filter((jti) => rows.some((row) => row.jti === jti))
}

describe.runIf(t.isPostgres)('the janitor', () => {
  it('prunes lineage rows expired beyond the retention, whole chains leaves first, and keeps the rest', async () => {
    const old = await token('old', -2 * HOUR)
    const recent = await token('recent', -10 * 60)
    const live = await token('live', HOUR)
    const root = await token('root', -3 * HOUR)
    const middle = await token('middle', -3 * HOUR, { parent: root })
    const leaf = await token('leaf', -2 * HOUR, { parent: middle })
    const result = await janitor()
    expect(result.outcome).toBe('done')
    expect(result.pruned.issued_tokens).toBeGreaterThanOrEqual(4)
    expect(await remaining([old, recent, live, root, middle, leaf])).toEqual([recent, live])
  })

  it('keeps a revoked ancestor or actor token while a token that depends on it is kept, so it still ends that token', async () => {
    // Never issued so (a child's exp is capped by its parent's and its actor token's), but rows are not trusted to be.
    const revokedRoot = await token('revoked-root', -2 * HOUR, { revoked: true })
    const child = await token('child', HOUR, { parent: revokedRoot })
    const grandchild = await token('grandchild', HOUR, { parent: child })
    const revokedActor = await token('revoked-actor', -2 * HOUR, { revoked: true })
    const minted = await token('minted', HOUR, { dependsOn: [revokedActor] })
    const expiredActor = await token('expired-actor', -2 * HOUR)
    const expiredMinted = await token('expired-minted', -2 * HOUR, { dependsOn: [expiredActor] })

    await janitor()
    expect(
      await remaining([revokedRoot, child, grandchild, revokedActor, minted, expiredActor, expiredMinted]),
    ).toEqual([revokedRoot, child, grandchild, revokedActor, minted])
    for (const jti of [child, grandchild, minted]) expect(await findActiveToken(t.db, jti, toDate(now))).toBeUndefined()
  })

  it('stops, pruning nothing, while another process holds the janitor lock', async () => {
    const old = await token('locked-out', -2 * HOUR)
    const other = new pg.Client({ connectionString: t.url })
    await other.connect()
    try {
      await other.query('begin')
      await other.query(`select pg_advisory_xact_lock(hashtextextended('mandate.janitor', 0))`)
      expect(await janitor()).toEqual({
        outcome: 'busy',
        pruned: {
          issued_tokens: 0,
          oidc_payloads: 0,
          webhook_deliveries: 0,
          decisions: 0,
          audit_events: 0,
          action_rates: 0,
          upstream_logins: 0,
        },
      })
      expect(await remaining([old])).toEqual([old])
    } finally {
      await other.query('rollback')
      await other.end()
    }
    await janitor()
    expect(await remaining([old])).toEqual([])
  })

  it('prunes rate counters whose next arrival time has passed (they allow what no row allows), and keeps the others', async () => {
    const [spent, running] = [`spent-${randomUUID()}`, `running-${randomUUID()}`]
    await t.db
      .insertInto('action_rates')
      .values([
        { rate_key: spent, tat: toDate(now - 1) },
        { rate_key: running, tat: toDate(now + 30) },
      ])
      .execute()
    expect((await janitor()).pruned.action_rates).toBeGreaterThanOrEqual(1)
    const left = await t.db
      .selectFrom('action_rates')
      .select('rate_key')
      .where('rate_key', 'in', [spent, running])
      .execute()
    expect(left.map((row) => row.rate_key)).toEqual([running])
  })

  it('prunes upstream sign-ins nobody came back from, and keeps the ones still waiting', async () => {
    const [gone, waiting] = [`gone-${randomUUID()}`, `waiting-${randomUUID()}`]
    const row = (state: string, expires: number) => ({
      state,
      issuer: 'company',
      interaction_uid: 'uid',
      code_verifier: 'v',
      nonce: 'n',
      expires_at: toDate(expires),
    })
    await t.db
      .insertInto('upstream_logins')
      .values([row(gone, now - 1), row(waiting, now + 600)])
      .execute()
    expect((await janitor()).pruned.upstream_logins).toBeGreaterThanOrEqual(1)
    const left = await t.db
      .selectFrom('upstream_logins')
      .select('state')
      .where('state', 'in', [gone, waiting])
      .execute()
    expect(left.map((r) => r.state)).toEqual([waiting])
  })

  it('prunes oidc-provider payloads (replay caches) past their expiry plus the clock tolerance', async () => {
    const payload = (id: string, expires: number | null) => ({
      model: 'ReplayDetection',
      id,
      payload: JSON.stringify({ jti: id }),
      expires_at: expires === null ? null : toDate(now + expires),
    })
    const ids = { old: randomUUID(), tolerated: randomUUID(), live: randomUUID(), forever: randomUUID() }
    await t.db
      .insertInto('oidc_payloads')
      .values([payload(ids.old, -60), payload(ids.tolerated, -5), payload(ids.live, 60), payload(ids.forever, null)])
      .execute()
    await janitor()
    const rows = await t.db.selectFrom('oidc_payloads').select('id').where('id', 'in', Object.values(ids)).execute()
    expect(rows.map((row) => row.id).sort()).toEqual([ids.tolerated, ids.live, ids.forever].sort())
  })

  it('prunes finished webhook deliveries past their retention, never a pending one', async () => {
    const delivery = (done: { delivered?: number; failed?: number }) => ({
      delivery_id: randomUUID(),
      resource: 'https://tickets.test/',
      url: 'http://127.0.0.1:1/hook',
      event: 'e30.e30.sig',
      created_at: toDate(now - 30 * DAY),
      next_attempt_at: toDate(now - 30 * DAY),
      delivered_at: done.delivered === undefined ? null : toDate(now - done.delivered),
      failed_at: done.failed === undefined ? null : toDate(now - done.failed),
    })
    const rows = [
      delivery({ delivered: 8 * DAY }),
      delivery({ failed: 8 * DAY }),
      delivery({ delivered: DAY }),
      delivery({}),
    ]
    await t.db.insertInto('webhook_deliveries').values(rows).execute()
    await janitor()
    const kept = await t.db
      .selectFrom('webhook_deliveries')
      .select('delivery_id')
      .where(
        'delivery_id',
        'in',
        rows.map((row) => row.delivery_id),
      )
      .execute()
    expect(kept.map((row) => row.delivery_id).sort()).toEqual([rows[2]?.delivery_id, rows[3]?.delivery_id].sort())
  })

  describe('decisions and audit events', () => {
    const ids = { oldDecision: randomUUID(), newDecision: randomUUID() }
    let oldEvent: string
    let newEvent: string
    beforeAll(async () => {
      const decision = (id: string, age: number) => ({
        decision_id: id,
        created_at: toDate(now - age),
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        result: 'deny',
        reason: 'subject_token.invalid',
      })
      await t.db
        .insertInto('decisions')
        .values([decision(ids.oldDecision, 400 * DAY), decision(ids.newDecision, DAY)])
        .execute()
      const event = async (age: number) =>
        (
          await t.db
            .insertInto('audit_events')
            .values({ occurred_at: toDate(now - age), type: 'task.created', actor: 'janitor-test' })
            .returning('event_id')
            .executeTakeFirstOrThrow()
        ).event_id
      oldEvent = await event(400 * DAY)
      newEvent = await event(DAY)
    })
    const decisionsLeft = async () =>
      (
        await t.db
          .selectFrom('decisions')
          .select('decision_id')
          .where('decision_id', 'in', Object.values(ids))
          .execute()
      )
        .map((row) => row.decision_id)
        .sort()
    const eventsLeft = async () =>
      (await t.db.selectFrom('audit_events').select('event_id').where('actor', '=', 'janitor-test').execute())
        .map((row) => row.event_id)
        .sort()

    it('keeps them by default, however old', async () => {
      await janitor()
      expect(await decisionsLeft()).toEqual(Object.values(ids).sort())
      expect(await eventsLeft()).toEqual([oldEvent, newEvent].sort())
    })

    it('refuses every other delete and every update of an audit event, even with the janitor setting', async () => {
      await expect(sql`delete from audit_events where event_id = ${oldEvent}`.execute(t.db)).rejects.toThrow(
        'audit_events is append-only',
      )
      await expect(
        t.db.transaction().execute(async (trx) => {
          await sql`select set_config('mandate.audit_prune_before', ${toDate(now).toISOString()}, true)`.execute(trx)
          await sql`update audit_events set actor = 'x' where event_id = ${oldEvent}`.execute(trx)
        }),
      ).rejects.toThrow('audit_events is append-only')
      await expect(
        t.db.transaction().execute(async (trx) => {
          await sql`select set_config('mandate.audit_prune_before', ${toDate(now - 30 * DAY).toISOString()}, true)`.execute(
            trx,
          )
          await sql`delete from audit_events where event_id = ${newEvent}`.execute(trx)
        }),
      ).rejects.toThrow('audit_events is append-only')
      expect(await eventsLeft()).toEqual([oldEvent, newEvent].sort())
    })

    it('prunes them past their own retention once one is set', async () => {
      const result = await janitor({ decisionRetention: 30 * DAY, auditRetention: 30 * DAY })
      expect(result.pruned).toMatchObject({ decisions: 1, audit_events: 1 })
      expect(await decisionsLeft()).toEqual([ids.newDecision])
      expect(await eventsLeft()).toEqual([newEvent])
    })
  })

  it('runs on a timer in every server process, counting its runs and rows', async () => {
    const expired = await token('timer', -8 * DAY)
    const config = loadConfig({
      MANDATE_ISSUER: server.issuer,
      MANDATE_MASTER_KEY: TEST_MASTER_KEY,
      MANDATE_MIGRATE: 'off',
      MANDATE_JANITOR__INTERVAL: '1s',
    })
    const app = await createApp(config, { database: t.database, log: createLog('silent') })
    try {
      const deadline = Date.now() + 15_000
      // The row is gone once the batch commits; the run is counted a moment later, when it returns.
      const counted = async () =>
        /^mandate_janitor_runs_total\{outcome="done"\} [1-9]/m.test(await app.metrics.registry.metrics())
      while ((await remaining([expired])).length > 0 || !(await counted())) {
        if (Date.now() > deadline) throw new Error('the timed janitor did not prune an expired row')
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      const metrics = await app.metrics.registry.metrics()
      expect(metrics).toMatch(/^mandate_janitor_runs_total\{outcome="done"\} [1-9]/m)
      expect(metrics).toMatch(/^mandate_janitor_pruned_rows_total\{table="issued_tokens"\} [1-9]/m)
    } finally {
      await app.close()
    }
    // Live tokens are untouched by it.
    const live = await accessToken(server.url, 'agent-one')
    expect(await introspect(server.url, live)).toMatchObject({ active: true })
  })

  it('runs one pass from the command line: `mandate janitor`', async () => {
    const expired = await token('cli', -8 * DAY)
    const cli = new URL('../../src/cli/main.ts', import.meta.url).pathname
    const { stdout } = await promisify(execFile)(process.execPath, [cli, 'janitor'], {
      env: {
        PATH: process.env.PATH ?? '',
        MANDATE_DATABASE_URL: t.url as string,
        MANDATE_MASTER_KEY: TEST_MASTER_KEY,
        MANDATE_ISSUER: 'http://127.0.0.1:1',
        MANDATE_LOG_LEVEL: 'warn',
      },
    })
    const printed = JSON.parse(stdout) as { outcome: string; pruned: Record<string, number> }
    expect(printed.outcome).toBe('done')
    expect(Object.keys(printed.pruned).sort()).toEqual(
      [
        'action_rates',
        'audit_events',
        'decisions',
        'issued_tokens',
        'oidc_payloads',
        'upstream_logins',
        'webhook_deliveries',
      ].sort(),
    )
    expect(await remaining([expired])).toEqual([])
  })
})
