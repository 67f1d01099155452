// The mandate binary as operators run it: real processes, real exit codes, one shared database.
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import { afterAll, describe, expect, inject, it, onTestFinished } from 'vitest'
import { type ChildServer, type ChildServerOptions, freePort, startChildServer } from '../support/child-server.ts'
import { cliEnv, cliPath, mandateCli } from '../support/cli.ts'
import { useDatabase } from '../support/database.ts'
import { admin, withDatabase } from '../support/global-setup.ts'
import { personToken } from '../support/idp.ts'
import {
  accessToken,
  exchange,
  exchanged,
  introspect,
  jtiOf,
  kidOf,
  post,
  revoke,
  tasksCall,
} from '../support/oauth.ts'
import { fixtures } from '../support/server.ts'
import { startTask } from '../support/tasks.ts'

const t = useDatabase()
const cli = cliPath
const baseEnv = () => cliEnv(t)
const mandate = (args: string[], env: Record<string, string> = {}) => mandateCli(t, args, env)

describe('configuration errors', () => {
  it('lists every invalid setting by its env name and exits 78', async () => {
    const result = await mandate(['serve'], {
      MANDATE_PORT: 'seventy',
      MANDATE_LOG_LEVEL: 'chatty',
      MANDATE_MASTER_KEY: 'c2hvcnQ=',
      MANDATE_KEYS__PUBLISH_DELAY: 'soon',
      MANDATE_NOT_A_SETTING: '1',
    })
    expect(result.code).toBe(78)
    expect(result.stderr.trim().split('\n')).toEqual([
      'invalid configuration:',
      '  MANDATE_PORT: Invalid input: expected number, received NaN',
      '  MANDATE_MASTER_KEY: each key must be 32 bytes, base64 encoded (openssl rand -base64 32)',
      '  MANDATE_LOG_LEVEL: Invalid option: expected one of "fatal"|"error"|"warn"|"info"|"debug"|"trace"|"silent"',
      '  MANDATE_KEYS__PUBLISH_DELAY: must be a duration such as "90s", "5m", "2h" or "1d"',
      '  MANDATE_NOT_A_SETTING: unknown setting',
    ])
  })

  it('reads an optional YAML file that the environment overrides, and reports its errors by env name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-config-'))
    const file = join(dir, 'mandate.yaml')
    writeFileSync(file, 'port: 70000\nkeys:\n  publishDelay: 2m\n  refreshInterval: never\n')
    const fromFile = await mandate(['--config', file, 'serve'], { MANDATE_ISSUER: 'not a url' })
    expect(fromFile.code).toBe(78)
    expect(fromFile.stderr.trim().split('\n')).toEqual([
      'invalid configuration:',
      '  MANDATE_ISSUER: Invalid URL',
      '  MANDATE_PORT: Too big: expected number to be <=65535',
      '  MANDATE_KEYS__REFRESH_INTERVAL: must be a duration such as "90s", "5m", "2h" or "1d"',
    ])
    const overridden = await mandate(['--config', file, 'serve'], {
      MANDATE_PORT: '0',
      MANDATE_KEYS__REFRESH_INTERVAL: '30s',
      MANDATE_DATABASE_URL: 'mysql://x',
    })
    expect(overridden.code).toBe(78)
    expect(overridden.stderr).toContain('MANDATE_DATABASE_URL: Invalid URL')
    expect(overridden.stderr).not.toContain('MANDATE_PORT')
  })
})

describe.runIf(t.isPostgres)('mandate against Postgres', () => {
  it('migrate status shows the applied migrations', async () => {
    const result = await mandate(['migrate', 'status'])
    // Every migration of the folder, in order: the template database was migrated to the last one.
    const applied = readdirSync(new URL('../../migrations/', import.meta.url))
      .filter((file) => file.endsWith('.sql'))
      .sort()
      .map((file) => `applied  ${file.slice(0, -'.sql'.length)}\n`)
    expect(applied.length).toBeGreaterThanOrEqual(9)
    expect(result).toMatchObject({ code: 0, stdout: applied.join('') })
  })

  it('apply validates, reports with file:line:col and exits 65 on invalid documents, then applies idempotently', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-cli-'))
    writeFileSync(
      join(dir, 'bad.yaml'),
      'apiVersion: mandate/v1\nkind: Client\nmetadata: { name: x }\nspec: { profile: agent, grantTypes: [client_credentials] }\n',
    )
    const bad = await mandate(['apply', dir])
    expect(bad.code).toBe(65)
    expect(bad.stderr).toContain(
      'bad.yaml:4:37: a public client (no secret, no jwks) may only use authorization_code and refresh_token (at spec.grantTypes)',
    )
    expect(bad.stderr).toContain('1 problem(s); nothing was written')

    const dry = await mandate(['apply', '--dry-run', fixtures])
    expect(dry.code).toBe(0)
    expect(dry.stdout).toContain('Client/agent-one would be created')
    expect(dry.stdout).toContain('dry run: nothing was written')
    const first = await mandate(['apply', fixtures])
    expect(first.stdout).toContain('Resource/tickets created')
    const again = await mandate(['apply', fixtures])
    expect(
      again.stdout
        .trim()
        .split('\n')
        .every((line) => line.endsWith(' unchanged')),
    ).toBe(true)
  })

  it('apply refuses weak keys, forbidden URLs and http in production (exit 65, nothing written), and audits as the OS user', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-cli-hardening-'))
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' })
    writeFileSync(
      join(dir, 'issuer.yaml'),
      `apiVersion: mandate/v1
kind: Issuer
metadata: { name: cli-weak-idp }
spec:
  issuer: https://cli-weak-idp.test
  algorithms: [RS256]
  jwks: { keys: [${JSON.stringify(weak)}] }
`,
    )
    const metadata = join(dir, 'metadata')
    mkdirSync(metadata)
    writeFileSync(
      join(metadata, 'rs.yaml'),
      `apiVersion: mandate/v1
kind: Resource
metadata: { name: cli-metadata-rs }
spec:
  uri: https://cli-metadata-rs.test/
  revocationWebhook: http://169.254.169.254/latest/meta-data/
`,
    )
    const audited = async () =>
      Number(
        (
          await t.db
            .selectFrom('audit_events')
            .select((eb) => eb.fn.countAll<string>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      )
    const before = await audited()
    const weakKey = await mandate(['apply', join(dir, 'issuer.yaml')])
    expect(weakKey.code).toBe(65)
    expect(weakKey.stderr).toMatch(
      /issuer\.yaml:7:18: an RSA key must have at least 2048 bits \(this one has 1024\) \(at spec\.jwks\.keys\.0\)\n1 problem\(s\); nothing was written\n$/,
    )
    const metadataUrl = await mandate(['apply', metadata])
    expect(metadataUrl.code).toBe(65)
    expect(metadataUrl.stderr).toMatch(
      /rs\.yaml:6:22: must not point at a metadata address \(169\.254\.169\.254\) unless MANDATE_OUTBOUND__ALLOW_HOSTS lists it \(at spec\.revocationWebhook\)\n1 problem\(s\); nothing was written\n$/,
    )

    const plain = join(dir, 'plain')
    mkdirSync(plain)
    writeFileSync(
      join(plain, 'rs.yaml'),
      `apiVersion: mandate/v1
kind: Resource
metadata: { name: cli-plain-rs }
spec:
  uri: https://cli-plain-rs.test/
  revocationWebhook: http://rs.example.com/events
`,
    )
    const production = await mandate(['apply', plain], { NODE_ENV: 'production' })
    expect(production.code).toBe(65)
    expect(production.stderr).toMatch(
      /rs\.yaml:6:22: must be an https URL in production \(at spec\.revocationWebhook\)\n1 problem\(s\); nothing was written\n$/,
    )
    expect(await audited()).toBe(before)

    const applied = await mandate(['apply', plain])
    expect(applied).toMatchObject({ code: 0, stdout: 'Resource/cli-plain-rs created\n' })
    const event = await t.db
      .selectFrom('audit_events')
      .select(['type', 'actor', 'data'])
      .orderBy('event_id', 'desc')
      .executeTakeFirstOrThrow()
    expect(event).toEqual({
      type: 'document.created',
      actor: `cli:${userInfo().username}`,
      data: {
        kind: 'Resource',
        name: 'cli-plain-rs',
        version: null,
        digest: expect.stringMatching(/^[0-9a-f]{64}$/),
        previous_digest: null,
      },
    })
  })

  describe('two server processes on one database', () => {
    const children: ChildServer[] = []
    afterAll(async () => {
      await Promise.all(children.map((child) => child.stop()))
    })

    /** `mandate serve` in a child process, stopped after these tests if a test has not stopped it. */
    async function serve(options: ChildServerOptions = {}): Promise<ChildServer> {
      const child = await startChildServer(t, options)
      children.push(child)
      return child
    }

    it('serve --apply audits each document it creates as actor serve', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'mandate-serve-apply-'))
      writeFileSync(
        join(dir, 'rs.yaml'),
        'apiVersion: mandate/v1\nkind: Resource\nmetadata: { name: serve-applied }\nspec: { uri: https://serve-applied.test/ }\n',
      )
      const node = await serve({ args: ['--apply', dir] })
      expect(await node.stop()).toBe(0)
      const events = await t.db
        .selectFrom('audit_events')
        .select(['type', 'actor'])
        .where(sql<string>`data->>'name'`, '=', 'serve-applied')
        .execute()
      expect(events).toEqual([{ type: 'document.created', actor: 'serve' }])
    })

    it('sees a revocation made on one process at once on the other, and drains on SIGTERM', async () => {
      // One logical server behind a load balancer: both processes share the issuer.
      const issuer = `http://127.0.0.1:${await freePort()}`
      const a = await serve({ issuer })
      const b = await serve({ issuer })
      for (const node of [a, b]) expect((await fetch(`${node.managementUrl}/health/ready`)).status).toBe(200)

      const token = await accessToken(a.url, 'agent-one')
      expect(await introspect(b.url, token)).toMatchObject({ active: true })
      const fromB = await accessToken(b.url, 'agent-two')
      expect(kidOf(fromB)).toBe(kidOf(token))
      expect(await introspect(a.url, fromB)).toMatchObject({ active: true })

      expect((await revoke(a.url, token, 'agent-one')).status).toBe(200)
      expect(await introspect(b.url, token)).toEqual({ active: false })
      expect(await introspect(a.url, token)).toEqual({ active: false })

      expect(await a.stop()).toBe(0)
      expect(await introspect(b.url, fromB)).toMatchObject({ active: true })
    })

    it('on SIGTERM answers 503 on /health/ready while still serving for MANDATE_SHUTDOWN_DELAY, then exits 0', async () => {
      const node = await serve({ env: { MANDATE_SHUTDOWN_DELAY: '2s' } })
      expect((await fetch(`${node.managementUrl}/health/ready`)).status).toBe(200)
      const signalled = Date.now()
      const exited = node.stop()
      let ready = await fetch(`${node.managementUrl}/health/ready`)
      for (let i = 0; i < 50 && ready.status === 200; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20))
        ready = await fetch(`${node.managementUrl}/health/ready`)
      }
      expect(ready.status).toBe(503)
      expect(await ready.json()).toMatchObject({
        status: 'DOWN',
        checks: expect.arrayContaining([{ name: 'shutdown', status: 'DOWN' }]),
      })
      // Still serving while load balancers take it out: a token is issued and introspected.
      expect(await introspect(node.url, await accessToken(node.url, 'agent-one'))).toMatchObject({ active: true })
      expect(await exited).toBe(0)
      expect(Date.now() - signalled).toBeGreaterThanOrEqual(1_900)
    })

    it('exits 0 on SIGTERM before serving, while waiting for migrations (MANDATE_MIGRATE=check)', async () => {
      const template = inject('templateDatabaseUrl')
      const name = `mandate_test_unmigrated_${randomUUID().replaceAll('-', '')}`
      await admin(template, (db) => sql`create database ${sql.id(name)}`.execute(db).then(() => {}))
      try {
        // Not startChildServer: this process never serves, it is stopped while it waits.
        const child = spawn(process.execPath, [cli, 'serve'], {
          env: {
            ...baseEnv(),
            MANDATE_DATABASE_URL: withDatabase(template, name),
            MANDATE_MIGRATE: 'check',
            MANDATE_LOG_LEVEL: 'info',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        onTestFinished(() => {
          child.kill('SIGKILL')
        })
        let output = ''
        const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
        await new Promise<void>((resolve) =>
          child.stdout?.on('data', (chunk: Buffer) => {
            output += chunk.toString()
            if (output.includes('waiting for pending migrations')) resolve()
          }),
        )
        child.kill('SIGTERM')
        expect(await exited).toBe(0)
        expect(output).toContain('stopping before serving')
        expect(output).toContain('"msg":"stopped"')
        expect(output).not.toContain('mandate is serving')
      } finally {
        await admin(template, (db) =>
          sql`drop database if exists ${sql.id(name)} with (force)`.execute(db).then(() => {}),
        )
      }
    })

    it('ends a task completed on one process at once on the other; the CLI shows and completes tasks', async () => {
      const issuer = `http://127.0.0.1:${await freePort()}`
      const [a, b] = [await serve({ issuer }), await serve({ issuer })]
      const alice = await personToken({ scope: 'tickets:read tickets:write' })
      const newTask = async (node: ChildServer) =>
        (await startTask(node.url, { alice, params: { purpose: 'cli' } })).task.task_id
      const taskId = await newTask(a)
      const response = await exchange(a.url, 'agent-one', {
        subject_token: alice,
        resource: 'https://tickets.test/',
        task_id: taskId,
      })
      const decisionId = response.headers.get('x-decision-id') as string
      const token = ((await response.json()) as { access_token: string }).access_token
      expect(await introspect(b.url, token)).toMatchObject({ active: true, task_id: taskId })

      expect(await (await tasksCall(b.url, 'agent-one', `/tasks/${taskId}/complete`, {})).json()).toMatchObject({
        revoked_tokens: 1,
      })
      expect(await introspect(a.url, token)).toEqual({ active: false })

      const shown = await mandate(['task', 'show', taskId])
      expect(shown.code, shown.stderr).toBe(0)
      expect(JSON.parse(shown.stdout)).toMatchObject({
        task: { task_id: taskId, status: 'completed', tokens: { issued: 1, active: 0 } },
      })
      const lineage = await mandate(['token', 'lineage', jtiOf(token)])
      expect(lineage.code, lineage.stderr).toBe(0)
      expect(JSON.parse(lineage.stdout)).toMatchObject({ token: { jti: jtiOf(token), active: false, task_id: taskId } })
      const decision = await mandate(['decision', 'show', decisionId])
      expect(decision.code, decision.stderr).toBe(0)
      expect(JSON.parse(decision.stdout)).toMatchObject({
        decision_id: decisionId,
        result: 'allow',
        task: { purpose: 'cli', delegator: 'alice' },
      })
      expect(await mandate(['task', 'show', '00000000-0000-4000-8000-000000000000'])).toMatchObject({
        code: 1,
        stderr: 'task 00000000-0000-4000-8000-000000000000 not found\n',
      })

      const second = await newTask(b)
      const live = await exchanged(b.url, 'agent-one', {
        subject_token: alice,
        resource: 'https://tickets.test/',
        task_id: second,
      })
      const completed = await mandate(['task', 'complete', second, '--outcome', 'failed'])
      expect(JSON.parse(completed.stdout)).toEqual({ task_id: second, completed_now: true, revoked_tokens: 1 })
      expect(await introspect(a.url, live)).toEqual({ active: false })
    })

    it('ensures the bootstrap admin client from MANDATE_BOOTSTRAP_ADMIN_SECRET', async () => {
      const secret = 'bootstrap-admin-secret-0123456789'
      const node = await serve({ env: { MANDATE_BOOTSTRAP_ADMIN_SECRET: secret } })
      const admin = await accessToken(node.url, 'mandate-admin', {
        resource: 'urn:mandate:admin',
        scope: 'mandate:admin',
      }).catch(() => undefined)
      expect(admin).toBeUndefined() // the fixture's own secret no longer works
      const response = await post(
        `${node.url}/token`,
        { grant_type: 'client_credentials', resource: 'urn:mandate:admin', scope: 'mandate:admin' },
        { clientId: 'mandate-admin', secret },
      )
      const { access_token } = (await response.json()) as { access_token: string }
      const audit = await fetch(`${node.adminUrl}/admin/v1/audit?type=client.bootstrapped`, {
        headers: { authorization: `Bearer ${access_token}` },
      })
      expect(audit.status).toBe(200)
      expect(((await audit.json()) as { events: Array<{ type: string; actor: string }> }).events[0]).toMatchObject({
        type: 'client.bootstrapped',
        actor: 'system',
      })
    })

    it('rotates keys from the CLI: the running server publishes the new key before it signs', async () => {
      const node = await serve()
      const before = await accessToken(node.url, 'agent-one')
      const rotated = await mandate(['keys', 'rotate'], { MANDATE_KEYS__PUBLISH_DELAY: '1h' })
      expect(rotated.code).toBe(0)
      const kid = /^created (\S+): published now, signs from /.exec(rotated.stdout)?.[1]
      expect(kid).toBeTruthy()
      let published: string[] = []
      for (let i = 0; i < 100 && !published.includes(kid as string); i++) {
        published = ((await (await fetch(`${node.url}/jwks`)).json()) as { keys: Array<{ kid: string }> }).keys.map(
          (k) => k.kid,
        )
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      expect(published).toContain(kid)
      expect(kidOf(await accessToken(node.url, 'agent-one'))).toBe(kidOf(before))
      const listed = await mandate(['keys', 'list'])
      expect(listed.stdout).toMatch(new RegExp(`${kid}  pending`))
    })
  })
})
