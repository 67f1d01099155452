// GitOps (issue 13): `mandate export <dir>` writes the documents in force back as YAML, one file a document and
// never a secret in plain, such that `mandate apply <dir>` of it changes nothing; `mandate apply --prune` retires
// the policy paths the folder no longer declares (audited, with its source), lists the other kinds it keeps,
// and refuses to retire a path a declared one is below; apply shows the documents' warnings without failing.
// Real CLI processes on a real database.
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import { beforeAll, describe, expect, it } from 'vitest'
import { applyDocuments } from '../../src/manifests/apply.ts'
import { hashPassword } from '../../src/users/password.ts'
import { mandateCli } from '../support/cli.ts'
import { useDatabase } from '../support/database.ts'
import { accessToken, post, secrets } from '../support/oauth.ts'
import { TEST_APPLY, useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)
/** The fixtures name 127.0.0.1 URLs, which the outbound rules allow only when told to. */
const env = { MANDATE_OUTBOUND__ALLOW_HOSTS: '127.0.0.1' }
const cli = (...args: string[]) => mandateCli(t, args, env)
const fresh = (prefix: string) => mkdtempSync(join(tmpdir(), prefix))
let exported: string

const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.yaml'))
    .sort()
const configuration = async () =>
  (
    await sql<Record<string, string>>`select
      (select count(*) from policy_path_versions) as versions,
      (select count(*) from policy_bindings) as bindings,
      (select string_agg(client_id || ' ' || content_hash || ' ' || coalesce(secret_hash, '-'), ',' order by client_id) from clients) as clients,
      (select string_agg(name || ' ' || content_hash, ',' order by name) from resources) as resources,
      (select string_agg(username || ' ' || coalesce(content_hash, '-') || ' ' || coalesce(password_hash, '-'), ',' order by username) from users) as users,
      (select count(*) from audit_events) as audit`.execute(t.db)
  ).rows[0]

beforeAll(async () => {
  // Beyond the fixtures: a labelled client, a resource with `labels: {}` and a described scope, a user whose
  // document gives a password hash and one whose password was set apart from their document.
  const dir = fresh('mandate-export-extra-')
  writeFileSync(
    join(dir, 'extra.yaml'),
    `apiVersion: mandate/v1
kind: Client
metadata: { name: labelled, labels: { team: support } }
spec: { profile: service, secret: labelled-secret-0123456789, grantTypes: [client_credentials], scopes: [docs:read] }
---
apiVersion: mandate/v1
kind: Resource
metadata: { name: docs, labels: {} }
spec:
  uri: https://docs.test/
  scopes: [{ name: docs:read, description: Read your documents }]
  accessTokenLifetime: 90s
---
apiVersion: mandate/v1
kind: User
metadata: { name: carol }
spec: { email: carol@example.com, passwordHash: '${await hashPassword('carol-password-0123')}' }
---
apiVersion: mandate/v1
kind: User
metadata: { name: dave }
spec: { displayName: Dave }
`,
  )
  expect((await applyDocuments(t.db, [dir], TEST_APPLY)).findings).toEqual([])
  await t.db
    .updateTable('users')
    .set({ password_hash: await hashPassword('dave-password-01234') })
    .where('username', '=', 'dave')
    .execute()
})

describe('mandate export', () => {
  it('writes one file a document, never a secret in plain, and apply of it changes nothing', async () => {
    exported = join(fresh('mandate-export-'), 'repo')
    const result = await cli('export', exported)
    expect(result).toMatchObject({ code: 0, stderr: '' })
    const files = filesUnder(exported)
    expect(result.stdout).toBe(`wrote ${files.length} document(s) to ${exported}\n`)
    expect(files).toEqual(
      expect.arrayContaining([
        'clients/agent-one.yaml',
        'clients/labelled.yaml',
        'resources/docs.yaml',
        'issuers/test-idp.yaml',
        'users/carol.yaml',
        'users/dave.yaml',
        'policy-paths/acme.yaml',
        'policy-paths/acme/support.yaml',
        'policy-paths/acme/support/agent-one.yaml',
      ]),
    )
    const everything = files.map((file) => readFileSync(join(exported, file), 'utf8')).join('\n')
    for (const secret of [...Object.values(secrets), 'labelled-secret-0123456789'])
      expect(everything).not.toContain(secret)
    expect(readFileSync(join(exported, 'clients/labelled.yaml'), 'utf8')).toMatch(
      /metadata:\n {2}name: labelled\n {2}labels:\n {4}team: support\nspec:\n {2}profile: service\n {2}secretHash: scrypt\$16384\$8\$1\$/,
    )
    // Dave's password was set apart from his document: it stays out of it; Carol's document gave hers.
    expect(readFileSync(join(exported, 'users/dave.yaml'), 'utf8')).not.toContain('passwordHash')
    expect(readFileSync(join(exported, 'users/carol.yaml'), 'utf8')).toContain('passwordHash: $argon2id$')

    const before = await configuration()
    const dry = await cli('apply', exported, '--dry-run', '--prune')
    expect(dry.code).toBe(0)
    expect(dry.stdout.split('\n').filter((line) => line && !line.endsWith(' would be unchanged'))).toEqual([
      'dry run: nothing was written',
    ])
    const applied = await cli('apply', exported)
    expect(applied.code).toBe(0)
    expect(applied.stdout.split('\n').filter((line) => line && !line.endsWith(' unchanged'))).toEqual([])
    expect(await configuration()).toEqual(before)
    // The secret is the one it was.
    await accessToken(server.url, 'agent-one', { resource: 'https://tickets.test/' })
  })

  it('refuses a folder that is not empty (exit 64), writing nothing', async () => {
    const dir = fresh('mandate-export-full-')
    writeFileSync(join(dir, 'keep.txt'), 'mine')
    const result = await cli('export', dir)
    expect(result.code).toBe(64)
    expect(result.stderr).toContain(`${dir} is not an empty folder: export into a new or empty one`)
    expect(readdirSync(dir)).toEqual(['keep.txt'])
  })

  it('leaves an upstream login secret out and says so', async () => {
    const dir = fresh('mandate-login-')
    writeFileSync(
      join(dir, 'login.yaml'),
      `apiVersion: mandate/v1
kind: Issuer
metadata: { name: corp-login }
spec:
  issuer: https://login.corp.test
  jwksUri: https://login.corp.test/jwks
  algorithms: [RS256]
  login: { clientId: mandate, clientSecret: upstream-secret-value-42 }
`,
    )
    expect((await applyDocuments(t.db, [dir], TEST_APPLY)).findings).toEqual([])
    const out = join(fresh('mandate-export-login-'), 'repo')
    const result = await cli('export', out)
    expect(result.code).toBe(0)
    expect(result.stderr).toContain(
      'note: Issuer/corp-login: spec.login.clientSecret is a secret and is not exported: add it before applying the file',
    )
    const text = readFileSync(join(out, 'issuers/corp-login.yaml'), 'utf8')
    expect(text).not.toContain('upstream-secret-value-42')
    expect(text).toContain('login:\n    clientId: mandate\n')
    await t.db.deleteFrom('issuers').where('name', '=', 'corp-login').execute()
  })
})

describe('a client document with spec.secretHash', () => {
  const doc = (name: string, spec: string) => `apiVersion: mandate/v1
kind: Client
metadata: { name: ${name} }
spec: { profile: service, grantTypes: [client_credentials], scopes: [tickets:read], ${spec} }
`
  it('stores the hash as given: the secret it hashes authenticates (an export applied to another database)', async () => {
    const { secret_hash } = await t.db
      .selectFrom('clients')
      .select('secret_hash')
      .where('client_id', '=', 'agent-one')
      .executeTakeFirstOrThrow()
    const dir = fresh('mandate-secret-hash-')
    writeFileSync(join(dir, 'copy.yaml'), doc('agent-copy', `secretHash: '${secret_hash}'`))
    const result = await cli('apply', dir)
    expect(result).toMatchObject({ code: 0, stdout: 'Client/agent-copy created\n' })
    const response = await post(
      `${server.url}/token`,
      { grant_type: 'client_credentials', resource: 'https://tickets.test/' },
      { clientId: 'agent-copy', secret: secrets['agent-one'] as string },
    )
    expect(response.status).toBe(200)
    expect((await cli('apply', dir)).stdout).toBe('Client/agent-copy unchanged\n')
  })

  it('refuses a value that is no scrypt hash of Mandate, and a secret beside it (exit 65), writing nothing', async () => {
    const dir = fresh('mandate-secret-hash-bad-')
    writeFileSync(join(dir, 'a.yaml'), doc('bad-hash', "secretHash: 'a-secret-pasted-by-mistake'"))
    writeFileSync(
      join(dir, 'b.yaml'),
      doc('both', `secret: both-secret-0123456789, secretHash: 'scrypt$16384$8$1$${'a'.repeat(22)}$${'b'.repeat(43)}'`),
    )
    const before = await configuration()
    const result = await cli('apply', dir)
    expect(result.code).toBe(65)
    expect(result.stderr).toContain(
      'a secretHash is the scrypt hash mandate export writes (scrypt$16384$8$1$…), never a secret (at spec.secretHash)',
    )
    expect(result.stderr).toContain('at most one of secret or secretHash (client_secret_basic/post) or jwks')
    expect(result.stderr).not.toContain('a-secret-pasted-by-mistake')
    expect(await configuration()).toEqual(before)
  })
})

describe('mandate apply --prune', () => {
  const retired = async (name: string) =>
    await t.db
      .selectFrom('policy_path_versions')
      .select(['version', 'retired', 'source_kind', 'source', 'reason'])
      .where('path', '=', name)
      .orderBy('version', 'desc')
      .executeTakeFirstOrThrow()

  it('refuses to retire a path while a declared one is below it (exit 65), writing nothing', async () => {
    const dir = fresh('mandate-prune-refused-')
    cpSync(exported, dir, { recursive: true })
    rmSync(join(dir, 'policy-paths/acme/support.yaml'))
    const before = await configuration()
    const result = await cli('apply', dir, '--prune')
    expect(result.code).toBe(65)
    expect(result.stderr).toMatch(
      /policy-paths\/acme\/support\/agent-one\.yaml:\d+:\d+: --prune would retire policy path acme\/support \(no document declares it\), which is above this one: declare acme\/support or remove this path \(at metadata\.name\)\n/,
    )
    expect(result.stderr).toMatch(/problem\(s\); nothing was written\n$/)
    expect(await configuration()).toEqual(before)
  })

  it('plans with --dry-run, then retires what the folder no longer declares, audited with its source; other kinds are kept', async () => {
    const dir = fresh('mandate-prune-')
    cpSync(exported, dir, { recursive: true })
    rmSync(join(dir, 'policy-paths/acme/gateway.yaml'))
    rmSync(join(dir, 'policy-paths/acme/cc-only.yaml'))
    rmSync(join(dir, 'clients/labelled.yaml'))
    const before = await configuration()
    const plan = await cli('apply', dir, '--prune', '--dry-run')
    expect(plan.code).toBe(0)
    expect(plan.stdout).toContain(
      'would retire policy path acme/gateway\n  unbinds gateway from https://tickets.test/ (urn:ietf:params:oauth:grant-type:token-exchange)\n',
    )
    expect(plan.stdout).toContain(
      'would retire policy path acme/cc-only\n  ! broadens: removes binding exchange-only → https://tickets.test/ (client_credentials): no path ceiling is left for it\n',
    )
    expect(plan.stdout).toContain('Client/labelled kept: not declared, but --prune retires policy paths only\n')
    expect(await configuration()).toEqual(before)

    const result = await cli('apply', dir, '--prune', '--reason', 'gateway decommissioned')
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('retired policy path acme/gateway\n')
    expect(await retired('acme/gateway')).toEqual({
      version: 2,
      retired: true,
      source_kind: 'prune',
      source: dir,
      reason: 'gateway decommissioned',
    })
    expect(
      (await t.db.selectFrom('policy_bindings').select('path').where('path', '=', 'acme/gateway').execute()).length,
    ).toBe(0)
    expect(
      await t.db.selectFrom('clients').select('client_id').where('client_id', '=', 'labelled').executeTakeFirst(),
    ).toBeDefined()
    const [event] = (
      await sql<{ actor: string; data: Record<string, unknown> }>`select actor, data from audit_events
        where type = 'policy_path.retired' and data->>'name' = 'acme/gateway'`.execute(t.db)
    ).rows
    expect(event).toEqual({
      actor: expect.stringMatching(/^cli/),
      data: {
        name: 'acme/gateway',
        reason: 'gateway decommissioned',
        from_version: 1,
        to_version: 2,
        source: { kind: 'prune', paths: dir },
        unbound: [
          {
            client: 'gateway',
            resource: 'https://tickets.test/',
            grantType: 'urn:ietf:params:oauth:grant-type:token-exchange',
          },
        ],
      },
    })
    // Pruning again changes nothing; applying the export again creates the path anew (its source the file).
    const again = await cli('apply', dir, '--prune')
    expect(again.stdout).not.toContain('retired policy path')
    const restored = await cli('apply', exported)
    expect(restored.stdout).toContain('PolicyPath/acme/gateway created\n')
    expect(await retired('acme/gateway')).toMatchObject({ version: 3, retired: false, source_kind: 'file' })
    expect(existsSync(join(exported, 'policy-paths/acme/gateway.yaml'))).toBe(true)
  })
})

describe('mandate apply warnings', () => {
  it('shows the documents warnings on stderr and still applies', async () => {
    const dir = fresh('mandate-warn-')
    writeFileSync(
      join(dir, 'wide.yaml'),
      `apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: acme/support/wide }
spec:
  scopes: [tickets:read, calendar:write]
`,
    )
    const result = await cli('apply', dir)
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(
      'PolicyPath/acme/support/wide created\n  limits scopes to tickets:read, calendar:write\n',
    )
    expect(result.stderr).toMatch(
      /wide\.yaml:5:\d+: warning: scope calendar:write is in no resource's scopes \(at \/spec\/scopes\/1\) \[scope_not_in_catalogue\]\n/,
    )
    expect(result.stderr).toMatch(
      /wide\.yaml:5:\d+: warning: scope calendar:write is wider than acme\/support: the ancestor wins \(at \/spec\/scopes\/1\) \[wider_than_ancestor\]\n/,
    )
  })
})
