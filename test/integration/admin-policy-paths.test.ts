// Policy paths on the admin API, read-only (issue 13): the list, the current document with its version as
// ETag, every version, and the effective policy annotated with the level each value came from.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { applyDocuments } from '../../src/manifests/apply.ts'
import { mandateCli } from '../support/cli.ts'
import { useDatabase } from '../support/database.ts'
import { accessToken } from '../support/oauth.ts'
import { TEST_APPLY, useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)
let token: string

const versions = async (name: string) =>
  (await t.db.selectFrom('policy_path_versions').select('version').where('path', '=', name).execute()).length

const admin = (path: string, bearer: string | null = token) =>
  fetch(`${server.adminUrl}${path}`, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} })

beforeAll(async () => {
  token = await accessToken(server.url, 'mandate-admin', { resource: 'urn:mandate:admin', scope: 'mandate:admin' })
  // A second version of acme/support, narrower: the history keeps both.
  const dir = mkdtempSync(join(tmpdir(), 'mandate-paths-'))
  writeFileSync(
    join(dir, 'support.yaml'),
    `apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: acme/support, description: "support, now read-mostly" }
spec:
  scopes: [tickets:read, notes:read]
  tokenLifetime: 3m
`,
  )
  expect((await applyDocuments(t.db, [dir], TEST_APPLY)).findings).toEqual([])
})

describe('GET /admin/v1/policy-paths', () => {
  it('lists every path in force with its current version, owner and bindings', async () => {
    const response = await admin('/admin/v1/policy-paths')
    expect(response.status).toBe(200)
    const { policy_paths } = (await response.json()) as { policy_paths: Array<Record<string, unknown>> }
    expect(policy_paths.map((p) => p.name)).toEqual(
      expect.arrayContaining(['acme', 'acme/support', 'acme/support/agent-one']),
    )
    expect(policy_paths.find((p) => p.name === 'acme/support/agent-one')).toMatchObject({
      version: 1,
      owner: 'support-platform',
      bindings: expect.arrayContaining([
        expect.objectContaining({ client: 'agent-one', resource: 'https://tickets.test/' }),
      ]),
      updated_at: expect.any(String),
    })
    expect(policy_paths.find((p) => p.name === 'acme/support')).toMatchObject({
      version: 2,
      description: 'support, now read-mostly',
    })
  })

  it('answers 401 without an admin token, and a client_credentials token of another resource is no admin token', async () => {
    expect((await admin('/admin/v1/policy-paths', null)).status).toBe(401)
    const other = await accessToken(server.url, 'agent-one', { scope: 'tickets:read' })
    expect((await admin('/admin/v1/policy-paths', other)).status).toBe(401)
  })
})

describe('one policy path', () => {
  it('answers its current document with the version as ETag', async () => {
    const response = await admin('/admin/v1/policy-paths/acme/support')
    expect(response.status).toBe(200)
    expect(response.headers.get('etag')).toBe('"2"')
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(await response.json()).toEqual({
      apiVersion: 'mandate/v1',
      kind: 'PolicyPath',
      metadata: { name: 'acme/support', description: 'support, now read-mostly' },
      spec: { bindings: [], scopes: ['tickets:read', 'notes:read'], tokenLifetime: 180 },
    })
    // The same path with its slashes encoded.
    expect((await admin('/admin/v1/policy-paths/acme%2Fsupport')).headers.get('etag')).toBe('"2"')
  })

  it('lists its versions, newest first, and answers each one, never lost', async () => {
    const list = (await (await admin('/admin/v1/policy-paths/acme/support/versions')).json()) as {
      name: string
      versions: Array<{ version: number }>
    }
    expect(list.name).toBe('acme/support')
    expect(list.versions.map((v) => v.version)).toEqual([2, 1])
    const first = (await (await admin('/admin/v1/policy-paths/acme/support/versions/1')).json()) as {
      version: number
      document: { spec: { scopes: string[] } }
    }
    expect(first.version).toBe(1)
    expect(first.document.spec.scopes).toEqual(['tickets:read', 'tickets:write', 'notes:read'])
  })

  it('folds its ancestors into the effective policy, each value annotated with the level it came from', async () => {
    const response = await admin('/admin/v1/policy-paths/acme/support/agent-one/effective')
    expect(response.status).toBe(200)
    const effective = (await response.json()) as Record<string, unknown>
    expect(effective).toMatchObject({
      path: 'acme/support/agent-one',
      versions: { acme: 1, 'acme/support': 2, 'acme/support/agent-one': 1 },
      // acme/support (v2) and agent-one both declare scopes: the intersection, from both.
      scopes: { value: ['tickets:read', 'notes:read'], from: ['acme/support', 'acme/support/agent-one'] },
      // 2m at agent-one is below acme/support's 3m: the minimum came from agent-one.
      tokenLifetime: { value: 120, from: ['acme/support/agent-one'] },
      maxDepth: { value: 3, from: ['acme'] },
      subjectIssuers: { value: ['self', 'test-idp'], from: ['acme'] },
      requireDpop: { value: false, from: [] },
    })
  })

  it('compares two versions: a semantic summary marking what broadens, and a line diff of the YAML', async () => {
    const response = await admin('/admin/v1/policy-paths/acme/support/diff?from=1&to=2')
    expect(response.status).toBe(200)
    const diff = (await response.json()) as Record<string, unknown>
    expect(diff).toMatchObject({
      name: 'acme/support',
      from: 1,
      to: 2,
      broadening: false,
      changes: [
        { field: '/metadata/description', text: 'changes description', broadening: false },
        { field: '/spec/scopes', text: 'removes scope tickets:write', broadening: false },
        { field: '/spec/tokenLifetime', text: 'sets tokenLifetime to 3m', broadening: false },
      ],
    })
    expect(diff.yaml).toContain('-     - tickets:write')
    expect(diff.yaml).toContain('+   tokenLifetime: 180')
    // The defaults: the current version against the one before it.
    expect(await (await admin('/admin/v1/policy-paths/acme/support/diff')).json()).toEqual(diff)
    // The reverse broadens.
    const back = (await (await admin('/admin/v1/policy-paths/acme/support/diff?from=2&to=1')).json()) as {
      broadening: boolean
      changes: Array<{ text: string; broadening: boolean }>
    }
    expect(back.broadening).toBe(true)
    expect(back.changes).toContainEqual(expect.objectContaining({ text: 'adds scope tickets:write', broadening: true }))
  })

  it('refuses a version that is not a number (400) and answers 404 for one that does not exist', async () => {
    const bad = await admin('/admin/v1/policy-paths/acme/support/diff?from=one')
    expect(bad.status).toBe(400)
    expect(await bad.json()).toEqual({ error: 'invalid_request', error_description: 'from must be a version number' })
    expect((await admin('/admin/v1/policy-paths/acme/support/diff?from=1&to=9')).status).toBe(404)
  })

  it.each([
    '/admin/v1/policy-paths/acme/nothing-here',
    '/admin/v1/policy-paths/acme/nothing-here/versions',
    '/admin/v1/policy-paths/acme/support/versions/3',
    '/admin/v1/policy-paths/acme/support/versions/0',
    '/admin/v1/policy-paths/acme/support/versions/one',
    '/admin/v1/policy-paths/acme/nothing-here/effective',
  ])('answers 404 for %s', async (path) => {
    const response = await admin(path)
    expect(response.status).toBe(404)
    expect(((await response.json()) as { error: string }).error).toBe('not_found')
  })
})

describe('mandate policy diff', () => {
  it('prints what changed, marking what broadens, then the YAML line by line', async () => {
    const result = await mandateCli(t, ['policy', 'diff', 'acme/support', '2', '1'])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('acme/support: version 2 → 1 (broadens)\n')
    expect(result.stdout).toContain('! broadens: adds scope tickets:write\n')
    expect(result.stdout).toContain('! broadens: removes tokenLifetime (was 3m)\n')
    expect(result.stdout).toContain('+     - tickets:write')
  })

  it('answers exit 1 for a version that does not exist and exit 64 for one that is no number', async () => {
    expect(await mandateCli(t, ['policy', 'diff', 'acme/support', '1', '7'])).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'policy path acme/support version 1 or 7 not found\n',
    })
    const bad = await mandateCli(t, ['policy', 'diff', 'acme/support', 'one', '2'])
    expect(bad.code).toBe(64)
    expect(bad.stderr).toContain('one is not a version number')
  })
})

describe('POST /admin/v1/policy-paths:validate', () => {
  const validate = (body: string, type = 'application/yaml') =>
    fetch(`${server.adminUrl}/admin/v1/policy-paths:validate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': type },
      body,
    })
  const stored = async () =>
    Number(
      (
        await t.db
          .selectFrom('policy_path_versions')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    )

  it('answers schema errors with line and column, and saves nothing', async () => {
    const before = await stored()
    const response = await validate(`apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: acme/support/new-one }
spec:
  scopes: [tickets:read]
  tokenLifetime: soon
`)
    expect(response.status).toBe(200)
    const body = (await response.json()) as { valid: boolean; findings: Array<Record<string, unknown>> }
    expect(body.valid).toBe(false)
    expect(body.findings).toEqual([
      expect.objectContaining({ severity: 'error', code: 'schema', path: '/spec/tokenLifetime', line: 6, column: 18 }),
    ])
    expect(await stored()).toBe(before)
  })

  it('finds unknown clients and resources and a triple bound elsewhere (errors), a scope no bound resource has and a level wider than its ancestors (warnings)', async () => {
    const response = await validate(
      JSON.stringify({
        apiVersion: 'mandate/v1',
        kind: 'PolicyPath',
        metadata: { name: 'acme/support/wide' },
        spec: {
          bindings: [
            { client: 'nobody', resource: 'https://tickets.test/', grantType: 'client_credentials' },
            { client: 'agent-one', resource: 'https://nowhere.test/', grantType: 'client_credentials' },
            {
              client: 'agent-one',
              resource: 'https://tickets.test/',
              grantType: 'urn:ietf:params:oauth:grant-type:token-exchange',
            },
          ],
          scopes: ['tickets:read', 'tickets:write', 'invoices:read'],
          tokenLifetime: '1h',
        },
      }),
      'application/json',
    )
    const body = (await response.json()) as {
      valid: boolean
      findings: Array<{ severity: string; code: string; message: string; path: string }>
    }
    expect(body.valid).toBe(false)
    const summary = body.findings.map((f) => [f.severity, f.code, f.path, f.message])
    expect(summary).toEqual(
      expect.arrayContaining([
        ['error', 'reference', '/spec/bindings/0/client', 'unknown client nobody'],
        ['error', 'reference', '/spec/bindings/1/resource', 'unknown resource https://nowhere.test/'],
        [
          'error',
          'reference',
          '/spec/bindings/2',
          'this (client, resource, grant type) is already bound by policy path acme/support/agent-one',
        ],
        [
          'warning',
          'scope_not_in_catalogue',
          '/spec/scopes/2',
          "scope invoices:read is in no bound resource's scopes: it is never granted",
        ],
        [
          'warning',
          'wider_than_ancestor',
          '/spec/scopes/1',
          'scope tickets:write is wider than acme/support: the ancestor wins',
        ],
        [
          'warning',
          'wider_than_ancestor',
          '/spec/scopes/2',
          'scope invoices:read is wider than acme/support: the ancestor wins',
        ],
        [
          'warning',
          'wider_than_ancestor',
          '/spec/tokenLifetime',
          'tokenLifetime 1h is wider than acme/support: the ancestor wins',
        ],
      ]),
    )
  })

  it('answers valid: true with warnings only, and 400 for an empty body', async () => {
    const ok = (await (
      await validate(`apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: acme/support/fine }
spec: { scopes: [tickets:read] }
`)
    ).json()) as { valid: boolean; findings: unknown[] }
    expect(ok).toEqual({ valid: true, findings: [] })
    const empty = await validate('')
    expect(empty.status).toBe(400)
    expect(await empty.json()).toEqual({
      error: 'invalid_request',
      error_description: 'the body must be a YAML or JSON document',
    })
  })
})

describe('mandate policy validate', () => {
  it('prints findings at file:line:col with their severity and exits 1 on an error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-validate-'))
    writeFileSync(
      join(dir, 'paths.yaml'),
      `apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: acme/support/cli }
spec:
  bindings: [{ client: ghost, resource: https://tickets.test/, grantType: client_credentials }]
  scopes: [tickets:read]
`,
    )
    const failed = await mandateCli(t, ['policy', 'validate', dir])
    expect(failed.code).toBe(1)
    expect(failed.stdout).toMatch(
      /paths\.yaml:5:\d+: error: unknown client ghost \(at \/spec\/bindings\/0\/client\) \[reference\]\n/,
    )
    expect(failed.stdout).toContain('1 document(s): 1 error(s), 0 warning(s)')
    writeFileSync(
      join(dir, 'paths.yaml'),
      `apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: acme/support/cli }
spec: { scopes: [tickets:read, tickets:write, invoices:read] }
`,
    )
    const warned = await mandateCli(t, ['policy', 'validate', dir])
    expect(warned.code).toBe(0)
    expect(warned.stdout).toContain('warning: scope tickets:write is wider than acme/support: the ancestor wins')
    expect(warned.stdout).toContain(
      "warning: scope invoices:read is in no resource's scopes (at /spec/scopes/2) [scope_not_in_catalogue]",
    )
    expect(warned.stdout).toContain('1 document(s): 0 error(s), 3 warning(s)')
  })
})

describe('mandate apply --dry-run', () => {
  it('prints the plan with what each policy path change does, broadening marked, and writes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-plan-'))
    writeFileSync(
      join(dir, 'support.yaml'),
      `apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: acme/support, description: "support, now read-mostly" }
spec:
  scopes: [tickets:read, notes:read, tickets:write]
  tokenLifetime: 2m
`,
    )
    const before = await versions('acme/support')
    const result = await mandateCli(t, ['apply', '--dry-run', dir])
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(
      'PolicyPath/acme/support would be updated\n  ! broadens: adds scope tickets:write\n  lowers tokenLifetime 3m → 2m\ndry run: nothing was written\n',
    )
    expect(await versions('acme/support')).toBe(before)
  })
})
