// `mandate policy simulate` and `mandate policy test` (issue 13). simulate decides one described request against
// the database's catalog (with candidate documents in place, as `POST …:simulate` does); test decides every case
// of `<dir>/tests/*.test.yaml` offline, against the documents of the folders named — no server, no database.
import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import type { Kysely } from 'kysely'
import { buildCatalog } from '../catalog/catalog.ts'
import { loadCatalogRows } from '../catalog/load.ts'
import type { DB } from '../db/schema.ts'
import { readTask } from '../delegation/task-facts.ts'
import { toDate } from '../lib/clock.ts'
import { findActiveToken } from '../lineage/tokens.ts'
import { type AnyDocument, documentKinds, schemaForKind } from '../manifests/apply.ts'
import { type Finding, formatFinding, loadDocuments, parseDocuments, TEST_FILE } from '../manifests/load.ts'
import { validateLoaded } from '../manifests/validate.ts'
import type { OutboundRules } from '../outbound/rules.ts'
import type { PolicyPathDocument } from '../policy/schema.ts'
import { withCandidates } from '../simulation/candidates.ts'
import { offlineCatalogRows } from '../simulation/offline-catalog.ts'
import { caseFailures, PolicyTestFile } from '../simulation/policy-tests.ts'
import { SimulationRequest } from '../simulation/request.ts'
import { type Simulation, SimulationInputError, simulate } from '../simulation/simulate.ts'

/** Offline, our own tokens are those whose iss is absent or "self". */
const OFFLINE_ISSUER = 'self'

type Write = (text: string) => void

async function readInput(file: string | undefined): Promise<string> {
  if (file !== undefined && file !== '-') return readFile(file, 'utf8')
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

const kinds = Object.keys(documentKinds)

/** One request (YAML or JSON, a file or standard input) decided against the database's policy; undefined: refused. */
export async function simulateCommand(
  deps: { db: Kysely<DB>; issuer: string; now: number; outbound: OutboundRules },
  input: { file?: string | undefined; candidate?: string | undefined },
  err: Write,
): Promise<Simulation | undefined> {
  const shown = input.file && input.file !== '-' ? input.file : 'stdin'
  const parsed = parseDocuments(await readInput(input.file), shown, () => SimulationRequest, [])
  const request = parsed.documents[0]?.document
  if (parsed.findings.length > 0 || !request || parsed.documents.length > 1) {
    for (const finding of parsed.findings) err(`${formatFinding(finding)}\n`)
    if (parsed.findings.length === 0) err(`${shown}: one simulation request, as a YAML or JSON object\n`)
    return undefined
  }
  const candidates: PolicyPathDocument[] = []
  if (input.candidate) {
    const loaded = await loadDocuments<AnyDocument>([input.candidate], schemaForKind, kinds)
    const errors = (await validateLoaded(deps.db, loaded, deps.outbound)).filter((f) => f.severity === 'error')
    for (const f of errors) err(`${f.file}:${f.line}:${f.column}: ${f.message}${f.path ? ` (at ${f.path})` : ''}\n`)
    const others = loaded.documents.filter((d) => d.document.kind !== 'PolicyPath')
    for (const d of others) err(`${d.file}:${d.line}:${d.column}: a candidate is a PolicyPath document\n`)
    if (errors.length > 0 || others.length > 0 || loaded.documents.length === 0) return undefined
    candidates.push(...loaded.documents.map((d) => d.document as PolicyPathDocument))
  }
  const { db, now } = deps
  const catalog = withCandidates(buildCatalog(await loadCatalogRows(db)), candidates)
  try {
    return await simulate(request, {
      catalog,
      issuer: deps.issuer,
      now,
      readTask: (taskId) => readTask(db, taskId, now),
      readToken: (jti) => findActiveToken(db, jti, toDate(now)),
    })
  } catch (error) {
    if (!(error instanceof SimulationInputError)) throw error
    err(`${shown}: ${error.message}\n`)
    return undefined
  }
}

/**
 * Every case of `<dir>/tests/*.test.yaml`, decided against the documents of `dir` and `more` (the clients,
 * resources and issuers the paths name). Prints each failure and `N passed, N failed`; true when all passed.
 */
export async function policyTestCommand(
  dir: string,
  more: readonly string[],
  now: number,
  out: Write,
): Promise<boolean> {
  const loaded = await loadDocuments<AnyDocument>([dir, ...more], schemaForKind, kinds)
  const invalid: Finding[] = [...loaded.findings]
  const testDir = join(dir, 'tests')
  const names = await readdir(testDir).catch(() => [] as string[])
  const files = names.filter((name) => TEST_FILE.test(name)).sort()
  const catalog = buildCatalog(
    offlineCatalogRows(
      loaded.documents.map((d) => d.document),
      now,
    ),
  )
  let passed = 0
  let failed = 0
  for (const name of files) {
    const path = join(testDir, name)
    const shown = relative(process.cwd(), path) || path
    const parsed = parseDocuments(await readFile(path, 'utf8'), shown, () => PolicyTestFile, [])
    invalid.push(...parsed.findings)
    for (const { document, locate } of parsed.documents) {
      for (const [index, testCase] of document.cases.entries()) {
        let failures: string[]
        try {
          const got = await simulate(testCase.request, { catalog, issuer: OFFLINE_ISSUER, now })
          failures = caseFailures(testCase.expect, got)
        } catch (error) {
          if (!(error instanceof SimulationInputError)) throw error
          failures = [error.message]
        }
        if (failures.length === 0) {
          passed += 1
          continue
        }
        failed += 1
        const { line, column } = locate(['cases', index])
        out(`FAIL ${shown}:${line}:${column} ${testCase.name}\n${failures.map((f) => `  ${f}\n`).join('')}`)
      }
    }
  }
  for (const finding of invalid) out(`${formatFinding(finding)}\n`)
  if (files.length === 0) out(`no *.test.yaml under ${testDir}\n`)
  out(`${passed} passed, ${failed} failed${invalid.length > 0 ? `, ${invalid.length} problem(s) in files` : ''}\n`)
  return failed === 0 && invalid.length === 0 && files.length > 0
}
