import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { applyDocuments } from '../../src/manifests/apply.ts'
import { formatFinding } from '../../src/manifests/load.ts'
import { counts, useDatabase } from '../support/database.ts'
import { clientCredentials, expectRejection } from '../support/oauth.ts'
import { TEST_APPLY, useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t, { apply: [] })

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-apply-'))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

const client = (name: string, extra = '') => `apiVersion: mandate/v1
kind: Client
metadata:
  name: ${name}
spec:
  profile: service
  secret: ${name}-secret-0123456789
  grantTypes: [client_credentials]
  scopes: [docs:read]${extra}
`
const resource = `apiVersion: mandate/v1
kind: Resource
metadata: { name: docs, description: documents }
spec:
  uri: https://docs.test/
  scopes: [docs:read]
  introspectors: [doc-reader]
  accessTokenLifetime: 2m
`
const apply = (paths: string[], dryRun = false) => applyDocuments(t.db, paths, { ...TEST_APPLY, dryRun })
const summary = (result: Awaited<ReturnType<typeof apply>>) =>
  result.changes.map((c) => `${c.kind}/${c.name} ${c.action}`)

describe('mandate apply', () => {
  it('validates everything, then creates clients and resources (several documents per file, folders recursively)', async () => {
    const dir = folder({ 'a.yaml': `${client('doc-reader')}---\n${resource}` })
    const dry = await apply([dir], true)
    expect(summary(dry)).toEqual(['Client/doc-reader created', 'Resource/docs created'])
    expect(await t.db.selectFrom('clients').selectAll().where('client_id', '=', 'doc-reader').execute()).toEqual([])

    const result = await apply([dir])
    expect(result.findings).toEqual([])
    expect(summary(result)).toEqual(['Client/doc-reader created', 'Resource/docs created'])
    const row = await t.db
      .selectFrom('clients')
      .selectAll()
      .where('client_id', '=', 'doc-reader')
      .executeTakeFirstOrThrow()
    expect(row.secret_hash).toMatch(/^scrypt\$16384\$8\$1\$/)
    expect(JSON.stringify(row)).not.toContain('doc-reader-secret-0123456789')
    expect(
      await t.db.selectFrom('resources').selectAll().where('name', '=', 'docs').executeTakeFirstOrThrow(),
    ).toMatchObject({
      uri: 'https://docs.test/',
      scopes: ['docs:read'],
      introspectors: ['doc-reader'],
      access_token_lifetime: 120,
    })

    // The applied client and resource work at once.
    const response = await clientCredentials(
      server.url,
      'doc-reader',
      { resource: 'https://docs.test/', scope: 'docs:read' },
      'doc-reader-secret-0123456789',
    )
    expect(await response.json()).toMatchObject({ expires_in: 120, scope: 'docs:read' })
  })

  it('is idempotent: re-applying the same documents writes nothing', async () => {
    const dir = folder({ 'b.yaml': `${client('idem')}` })
    expect(summary(await apply([dir]))).toEqual(['Client/idem created'])
    const before = await t.db
      .selectFrom('clients')
      .selectAll()
      .where('client_id', '=', 'idem')
      .executeTakeFirstOrThrow()
    expect(summary(await apply([dir]))).toEqual(['Client/idem unchanged'])
    const after = await t.db.selectFrom('clients').selectAll().where('client_id', '=', 'idem').executeTakeFirstOrThrow()
    expect(after).toEqual(before)
  })

  it('updates a changed document, and a new secret replaces the old one', async () => {
    const dir = folder({ 'c.yaml': client('rotating') })
    await apply([dir])
    writeFileSync(
      join(dir, 'c.yaml'),
      client('rotating').replace('rotating-secret-0123456789', 'rotating-new-secret-0000000'),
    )
    expect(summary(await apply([dir]))).toEqual(['Client/rotating updated'])
    await expectRejection(
      await clientCredentials(server.url, 'rotating', { resource: 'https://docs.test/' }, 'rotating-secret-0123456789'),
      { status: 401, error: 'invalid_client', error_description: 'client authentication failed' },
    )
    const ok = await clientCredentials(
      server.url,
      'rotating',
      { resource: 'https://docs.test/' },
      'rotating-new-secret-0000000',
    )
    expect(ok.status).toBe(200)
  })

  it('reports every invalid document at file:line:col and writes nothing', async () => {
    const dir = folder({
      'good.yaml': client('never-written'),
      'bad.yaml': `apiVersion: mandate/v1
kind: Client
metadata:
  name: bad-one
spec:
  profile: robot
  secret: short
  scopes: ["bad scope"]
---
apiVersion: mandate/v1
kind: Resource
metadata: { name: bad-resource }
spec:
  uri: not a uri
  colour: blue
---
apiVersion: mandate/v1
kind: Gadget
metadata: { name: g }
spec: {}
`,
      'broken.yml': 'apiVersion: mandate/v1\nkind: Client\n  metadata: [\n',
    })
    const before = await counts(t.db)
    const result = await apply([dir])
    expect(result.changes).toEqual([])
    const shown = result.findings.map((f) => formatFinding({ ...f, file: f.file.split('/').pop() as string }))
    expect(shown.filter((line) => line.startsWith('broken.yml:'))).toEqual([
      'broken.yml:2:7: Nested mappings are not allowed in compact mappings',
      'broken.yml:2:7: Implicit keys need to be on a single line',
      'broken.yml:4:1: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ])
    expect(shown.filter((line) => line.startsWith('bad.yaml:'))).toEqual([
      'bad.yaml:6:12: Invalid option: expected one of "agent"|"service"|"app"|"resource-server" (at spec.profile)',
      'bad.yaml:7:11: a client secret must have at least 16 characters (at spec.secret)',
      'bad.yaml:8:12: not a valid scope token (RFC 6749 §3.3) (at spec.scopes.0)',
      'bad.yaml:14:8: Invalid URL (at spec.uri)',
      'bad.yaml:15:3: unknown field colour (at spec.colour)',
      'bad.yaml:18:7: kind must be one of Client, User, Resource, Issuer, PolicyPath (at kind)',
    ])
    expect(await counts(t.db)).toEqual(before)
  })

  it('checks references and uniqueness across documents and the database', async () => {
    const dir = folder({
      'refs.yaml': `${resource.replace('name: docs', 'name: docs-copy').replace('[doc-reader]', '[nobody]')}---\n${client('twice')}---\n${client('twice')}`,
    })
    const before = await counts(t.db)
    const result = await apply([dir])
    expect(result.findings.map((f) => `${f.line}:${f.column} ${f.message}`)).toEqual([
      expect.stringMatching(/^\d+:\d+ Client\/twice is also defined at .*refs\.yaml:\d+$/),
      '5:8 resource docs already uses this uri',
      '7:19 unknown client nobody',
    ])
    expect(await counts(t.db)).toEqual(before)
  })
})

// The demo configuration `npm start` applies (package.json "start": `serve --apply <paths...>`), applied
// through the same code path to an empty database of its own (the file's other database holds
// documents of the cases above). Reading the paths from package.json keeps this test right when the
// demo documents move between folders.
const demo = useDatabase()
const root = new URL('../../', import.meta.url).pathname

function startApplyPaths(): string[] {
  const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }
  const words = scripts.start.split(/\s+/)
  const from = words.indexOf('--apply') + 1
  const end = words.findIndex((word, index) => index >= from && /^(--|&&|\|\||;|\|)/.test(word))
  return words.slice(from, end === -1 ? undefined : end).map((path) => join(root, path))
}

describe('the demo configuration', () => {
  it('applies cleanly to an empty database, and re-applying it changes nothing', async () => {
    const paths = startApplyPaths()
    expect(paths.length).toBeGreaterThan(0)
    for (const path of paths) expect(existsSync(path), path).toBe(true)

    const first = await applyDocuments(demo.db, paths, TEST_APPLY)
    expect(first.findings.map(formatFinding)).toEqual([])
    expect([...new Set(first.changes.map((c) => c.kind))]).toEqual(
      expect.arrayContaining(['Client', 'Resource', 'PolicyPath']),
    )
    expect(first.changes.filter((c) => c.action !== 'created')).toEqual([])
    const versions = await demo.db.selectFrom('policy_path_versions').selectAll().orderBy('path').execute()
    expect(versions.length).toBe(first.changes.filter((c) => c.kind === 'PolicyPath').length)

    const again = await applyDocuments(demo.db, paths, TEST_APPLY)
    expect(again.findings).toEqual([])
    expect(summary(again)).toEqual(first.changes.map((c) => `${c.kind}/${c.name} unchanged`))
    expect(await demo.db.selectFrom('policy_path_versions').selectAll().orderBy('path').execute()).toEqual(versions)
  })
})
