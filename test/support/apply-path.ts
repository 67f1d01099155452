// A policy path document written to a fresh folder and applied as `mandate apply` would (a narrowing or
// widening change made by another process, for tests of the configuration in memory).
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Kysely } from 'kysely'
import { expect } from 'vitest'
import type { DB } from '../../src/db/schema.ts'
import { applyDocuments } from '../../src/manifests/apply.ts'
import { TEST_APPLY } from './server.ts'

/** `spec`: the document's spec as indented YAML lines. Fails the test on any finding. */
export async function applyPath(db: Kysely<DB>, name: string, spec: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-path-'))
  writeFileSync(
    join(dir, 'path.yaml'),
    `apiVersion: mandate/v1\nkind: PolicyPath\nmetadata: { name: ${name} }\nspec:\n${spec}`,
  )
  expect((await applyDocuments(db, [dir], TEST_APPLY)).findings).toEqual([])
}

/**
 * agent-one's own path on the tickets resource (fixtures/policy-paths.yaml, narrowed to what tests of runtime
 * authorization need) with these action rules: `actions` as YAML list items, one per line.
 */
export const applyAgentOneActions = (db: Kysely<DB>, actions: string): Promise<void> =>
  applyPath(
    db,
    'acme/support/agent-one',
    `  bindings:
    - { client: agent-one, resource: https://tickets.test/, grantType: urn:ietf:params:oauth:grant-type:token-exchange }
  scopes: [tickets:read, tickets:write]
  delegation: { mode: delegation, actors: [agent-one, sub-agent] }
  actions:
${actions
  .trim()
  .split('\n')
  .map((line) => `    ${line.trim()}`)
  .join('\n')}
`,
  )
