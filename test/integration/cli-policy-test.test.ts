// `mandate policy test` and `mandate policy simulate` as operators run them (issue 13): the repository's own
// policy-paths/tests cases pass against the demo documents, offline; a failing case and an invalid file exit 1
// and say where; simulate decides a request on the database's policy (or a candidate's) and writes nothing.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { type AnyDocument, applyDocuments, documentKinds, schemaForKind } from '../../src/manifests/apply.ts'
import { loadDocuments, yamlFiles } from '../../src/manifests/load.ts'
import { mandateCli, mandateCliWithInput } from '../support/cli.ts'
import { rowCount, useDatabase, writtenRows } from '../support/database.ts'
import { fixtures, TEST_APPLY } from '../support/server.ts'

const t = useDatabase()
const cases = new URL('../support/policy-tests/', import.meta.url).pathname

beforeAll(async () => {
  const applied = await applyDocuments(t.db, [fixtures], TEST_APPLY)
  expect(applied.findings).toEqual([])
})

describe('mandate policy test', () => {
  it("passes the repository's cases for the demo policy paths, offline", async () => {
    const run = await mandateCli(t, ['policy', 'test', 'policy-paths', '--documents', 'examples'], {
      MANDATE_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
    })
    expect(run.stdout).toMatch(/^\d+ passed, 0 failed\n$/)
    expect(Number(run.stdout.split(' ')[0])).toBeGreaterThanOrEqual(10)
    expect(run.code).toBe(0)
  })

  it('prints each failing case where it is, and exits 1', async () => {
    const run = await mandateCli(t, [
      'policy',
      'test',
      join(cases, 'failing'),
      '--documents',
      'policy-paths',
      'examples',
    ])
    expect(run.code).toBe(1)
    expect(run.stdout).toMatch(
      /^FAIL .*failing\.test\.yaml:11:5 the triage sub-agent writes \(wrong on purpose\)\n {2}decision: expected allow, got deny \(scope\.not_allowed: tickets:write\)\n {2}scope: expected \["tickets:write"\], got null\n1 passed, 1 failed\n$/,
    )
  })

  it('refuses an invalid file at its line and column, and a folder without tests, with exit 1', async () => {
    const invalid = await mandateCli(t, ['policy', 'test', join(cases, 'invalid'), '--documents', 'examples'])
    expect(invalid.code).toBe(1)
    expect(invalid.stdout).toMatch(/invalid\.test\.yaml:5:25: .*"allow"\|"deny" \(at cases\.0\.expect\.decision\)\n/)
    expect(invalid.stdout).toMatch(/0 passed, 0 failed, 1 problem\(s\) in files\n$/)
    const empty = await mandateCli(t, ['policy', 'test', 'examples'])
    expect(empty.code).toBe(1)
    expect(empty.stdout).toContain('no *.test.yaml under examples/tests')
  })

  it('leaves test files out of the documents apply reads from a folder', async () => {
    const files = await yamlFiles(['policy-paths'])
    expect(files.some((file) => file.endsWith('.test.yaml'))).toBe(false)
    expect(files).toContain('policy-paths/acme.yaml')
    const loaded = await loadDocuments<AnyDocument>(['policy-paths'], schemaForKind, Object.keys(documentKinds))
    expect(loaded.findings).toEqual([])
    expect(loaded.documents).toHaveLength(files.length)
  })
})

describe('mandate policy simulate', () => {
  const request = JSON.stringify({
    client_id: 'agent-one',
    resource: 'https://tickets.test/',
    subject: { sub: 'alice', scope: 'tickets:read tickets:write', client_id: 'alice' },
    scope: 'tickets:write',
  })

  it('decides a request from standard input on the stored policy, or with a candidate, writing nothing', async () => {
    const before = { ...(await writtenRows(t.db)), versions: await rowCount(t.db, 'policy_path_versions') }
    const live = await mandateCliWithInput(t, ['policy', 'simulate'], request)
    expect(live.code, live.stderr).toBe(0)
    expect(JSON.parse(live.stdout)).toMatchObject({
      decision: 'allow',
      scope: ['tickets:write'],
      act: { sub: 'agent-one' },
      lifetime: 120,
      policy: { path: 'acme/support/agent-one', version: 1 },
    })
    const folder = mkdtempSync(join(tmpdir(), 'mandate-candidate-'))
    writeFileSync(
      join(folder, 'candidate.yaml'),
      `apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: acme/support/agent-one }
spec:
  bindings:
    - { client: agent-one, resource: https://tickets.test/, grantType: urn:ietf:params:oauth:grant-type:token-exchange }
  scopes: [tickets:read]
`,
    )
    writeFileSync(join(folder, 'request.yaml'), request)
    const candidate = await mandateCli(t, [
      'policy',
      'simulate',
      join(folder, 'request.yaml'),
      '--candidate',
      join(folder, 'candidate.yaml'),
    ])
    expect(candidate.code, candidate.stderr).toBe(0)
    expect(JSON.parse(candidate.stdout)).toMatchObject({
      decision: 'deny',
      reason: 'scope.not_allowed',
      constrained_by: [{ by: 'policy:acme/support/agent-one', scope: ['tickets:write'] }],
      policy: { path: 'acme/support/agent-one', version: 2 },
    })
    expect({ ...(await writtenRows(t.db)), versions: await rowCount(t.db, 'policy_path_versions') }).toEqual(before)
  })

  it('refuses an invalid request or candidate with exit 1, where it is', async () => {
    const bad = await mandateCliWithInput(t, ['policy', 'simulate'], '{"client_id": "agent-one",\n "resource": 7}')
    expect(bad.code).toBe(1)
    expect(bad.stdout).toBe('')
    expect(bad.stderr).toMatch(/^stdin:2:14: .* \(at resource\)\n$/)
    const folder = mkdtempSync(join(tmpdir(), 'mandate-candidate-'))
    writeFileSync(
      join(folder, 'candidate.yaml'),
      'apiVersion: mandate/v1\nkind: PolicyPath\nmetadata: { name: acme/x }\nspec: { tokenLifetime: soon }\n',
    )
    const candidate = await mandateCliWithInput(
      t,
      ['policy', 'simulate', '--candidate', join(folder, 'candidate.yaml')],
      request,
    )
    expect(candidate.code).toBe(1)
    expect(candidate.stderr).toMatch(/candidate\.yaml:4:24: must be a duration .*\(at \/spec\/tokenLifetime\)\n$/)
  })
})
