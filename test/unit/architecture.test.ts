// The shape of src/, enforced: which folder may import which (layers, below), which files may import
// which packages, and which modules are pure. Changing a row is a design decision: review it as one.
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { expect, it } from 'vitest'
import { SDK_PACKAGES, sdkSpecifiers } from '../support/sdk.ts'

/**
 * Folders from the bottom up (docs/architecture.md draws the same): a folder imports only folders of a
 * lower layer, never one beside or above it, so the import graph has no cycle and the core never
 * depends on an edge. `.` is the composition root (app.ts, services.ts).
 */
const layers: string[][] = [
  ['lib', 'oauth'], // helpers without domain words; the protocol's own names
  ['config', 'db'], // settings; the database and its schema
  ['documents', 'replay', 'lineage', 'audit', 'keys', 'outbound'], // storage and the document base
  ['clients', 'resources', 'issuers', 'users'], // registered parties and people
  ['policy', 'dpop', 'upstream'], // policy documents and their pure rules; proofs of possession; upstream sign-in
  ['tasks', 'observability', 'catalog'], // the task model; logs, metrics, health; the configuration in memory
  ['delegation', 'client-credentials', 'authorization-code', 'http', 'approvals', 'pages'], // the one decision of each grant; our HTTP edge plumbing and page rendering
  ['decisions'], // decision records (they carry the decision's constraints)
  ['evaluation'], // runtime authorization: one evaluation of an action, decided, gated and recorded
  ['simulation'], // a token request decided on described facts by the grants' own decisions (issue 13)
  ['oidc', 'admin', 'tasks-api', 'access-api', 'janitor'], // edges: oidc-provider wiring, the admin, tasks and access APIs, jobs
  ['token-exchange', 'manifests', 'sign-in'], // the exchange grant (on oidc-provider); apply (names the admin resource); the sign-in pages
  ['console'], // the admin console: people signed in at Mandate itself (its CSRF tokens are the sign-in pages')
  ['.'], // composition root
  ['cli'], // the operator commands, built on the composition root
]
const layerOf = new Map(layers.flatMap((folders, layer) => folders.map((folder) => [folder, layer] as const)))

const allowed: Array<[files: RegExp, packages: RegExp]> = [
  [
    /^src\/(oidc\/|app\.ts$|token-exchange\/(grant|issue|denials|refusals|facts)\.ts$|sign-in\/routes\.ts$)/,
    /^oidc-provider$/,
  ],
  // The one internal module: DPoP nonces shared with oidc-provider (see src/oidc/internals.d.ts).
  [/^src\/oidc\/dpop-nonces\.ts$/, /^oidc-provider\/lib\/helpers\/challenge\.js$/],
  [
    /^src\/(db\/|janitor\/|[a-z-]+\/(store|plan-apply)\.ts$|lineage\/|manifests\/(apply|validate|prune|export)\.ts$|policy\/retire\.ts$|documents\/plan\.ts$|oidc\/|app\.ts$|cli\/|keys\/ring\.ts$|issuers\/verify\.ts$|token-exchange\/(grant|issue|refusals|facts|write)\.ts$|delegation\/(subject-token|targets|load-policy|task-facts)\.ts$|tasks-api\/|admin\/|audit\/write\.ts$|clients\/authenticate\.ts$|users\/(authenticate|disable)\.ts$|tasks\/(webhooks|complete)\.ts$|evaluation\/(store|rates|gates|evaluate)\.ts$|approvals\/(store|webhook)\.ts$|access-api\/|replay\/|dpop\/claim\.ts$|catalog\/(source|load)\.ts$|sign-in\/(routes|failures|upstream)\.ts$|upstream\/(identities|start)\.ts$|console\/)/,
    /^(kysely|kysely\/migration|pg|@electric-sql\/pglite)$/,
  ],
  [
    /^src\/(app\.ts$|http\/|admin\/|observability\/|cli\/|oidc\/|tasks-api\/|access-api\/|catalog\/source\.ts$|pages\/|sign-in\/routes\.ts$|console\/)/,
    /^(koa|koa-mount|pino|prom-client)$/,
  ],
  [/^src\/(manifests\/load\.ts|config\/load\.ts|documents\/yaml\.ts)$/, /^yaml$/],
  [/^src\/cli\//, /^(commander|pino)$/],
  [/^src\/upstream\//, /^oauth4webapi$/], // an OpenID Connect client of upstream providers
]
const everywhere = /^(zod|jose)$/

const sources = readdirSync('src', { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.ts'))
  .map((file) => `src/${file}`)

const folderOf = (file: string): string => {
  const inSrc = relative('src', file)
  return inSrc.includes('/') ? (inSrc.split('/')[0] as string) : '.'
}

it('places every folder of src/ in a layer', () => {
  expect([...new Set(sources.map(folderOf))].filter((folder) => !layerOf.has(folder))).toEqual([])
})

it.each(sources)('%s imports no folder beside or above its own', (file) => {
  const own = folderOf(file)
  // Every relative specifier: `from '…'`, `import '…'` and `import('…')`.
  const upward = [...readFileSync(file, 'utf8').matchAll(/\b(?:from|import)\s*\(?\s*'(\.[^']*)'/g)]
    .map((m) => folderOf(join(dirname(file), m[1] as string)))
    .filter((folder) => folder !== own && !((layerOf.get(folder) ?? Infinity) < (layerOf.get(own) ?? -1)))
  expect(upward).toEqual([])
})

it.each(sources)('%s imports only what its layer allows', (file) => {
  const packages = [...readFileSync(file, 'utf8').matchAll(/from '([^'.][^']*)'|import\('([^'.][^']*)'\)/g)]
    .map((m) => (m[1] ?? m[2]) as string)
    .filter((name) => !name.startsWith('node:') && !everywhere.test(name))
  const forbidden = packages.filter((name) => !allowed.some(([files, ok]) => files.test(file) && ok.test(name)))
  expect(forbidden).toEqual([])
})

// Pure decisions: no I/O and no clock reads, so they can be tested (and simulated) as values.
const pure = [
  'src/keys/lifecycle.ts',
  'src/keys/compact-jws.ts',
  'src/lib/duration.ts',
  'src/config/schema.ts',
  'src/policy/schema.ts',
  'src/policy/effective.ts',
  'src/delegation/decide.ts',
  'src/delegation/chain.ts',
  'src/delegation/decision.ts',
  'src/delegation/denied.ts',
  'src/delegation/dependencies.ts',
  'src/tasks/access.ts',
  'src/client-credentials/rules.ts',
  'src/catalog/catalog.ts',
  'src/dpop/bound-key.ts',
  'src/policy/act-claim.ts',
  'src/policy/narrow-scope.ts',
  'src/token-exchange/params.ts',
  'src/tasks/cap.ts',
  'src/lib/jwk-strength.ts',
  'src/outbound/address.ts',
  'src/outbound/rules.ts',
  'src/http/strict-json.ts',
  'src/http/has-nul.ts',
  'src/http/authorization.ts',
  'src/http/claimed-client.ts',
  'src/http/address-key.ts',
  'src/http/token-buckets.ts',
  'src/lib/clock-skew.ts',
  'src/db/bounds.ts',
  'src/policy/actions.ts',
  'src/policy/action-requirement.ts',
  'src/tasks/intent.ts',
  'src/evaluation/decide.ts',
  'src/evaluation/reasons.ts',
  'src/evaluation/known-tokens.ts',
  'src/approvals/approver.ts',
  'src/approvals/present.ts',
  'src/access-api/request.ts',
  'src/access-api/metadata.ts',
  'src/authorization-code/rules.ts',
  'src/policy/annotate.ts',
  'src/pages/html.ts',
  'src/sign-in/consent.ts',
  'src/sign-in/csrf.ts',
  'src/sign-in/pages.ts',
  'src/upstream/reasons.ts',
  'src/upstream/username.ts',
  'src/users/schema.ts',
  'src/console/layout.ts',
  'src/console/policy-views.ts',
  'src/console/edit-views.ts',
  'src/console/simulate-view.ts',
  'src/console/views.ts',
  'src/decisions/facts.ts',
  'src/decisions/exchange-facts.ts',
  'src/evaluation/recorded-facts.ts',
  'src/admin/replay-report.ts',
  'src/simulation/simulate.ts',
  'src/simulation/candidates.ts',
  'src/simulation/tokens.ts',
  'src/simulation/task.ts',
  'src/simulation/request.ts',
  'src/simulation/offline-catalog.ts',
  'src/simulation/policy-tests.ts',
]
it.each(pure)('%s is pure: no I/O modules, no clock', (file) => {
  const text = readFileSync(file, 'utf8')
  expect(text).not.toMatch(/from '(kysely|pg|koa|oidc-provider|jose|node:fs|node:net|node:http|yaml)'/)
  expect(text).not.toMatch(/Date\.now\(|new Date\(\)/)
})

// The client helpers (sdk/, docs/decisions/0014) run in an agent's process and ship on their own: nothing of
// src/ (a relative import stays inside sdk/), no package but jose and oauth4webapi, and node: builtins.
const helpers = readdirSync('sdk', { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.ts') && !file.startsWith('dist/'))
  .map((file) => `sdk/${file}`)

it('finds the helpers', () => {
  expect(helpers).toContain('sdk/agent.ts')
})

it.each(helpers)('%s imports only sdk/, jose, oauth4webapi and node: builtins', (file) => {
  const outside = [...readFileSync(file, 'utf8').matchAll(/\b(?:from|import)\s*\(?\s*'([^']*)'/g)]
    .map((m) => m[1] as string)
    .filter((specifier) =>
      specifier.startsWith('.')
        ? !join(dirname(file), specifier).startsWith('sdk/')
        : !specifier.startsWith('node:') && !(SDK_PACKAGES as readonly string[]).includes(specifier),
    )
  expect(outside).toEqual([])
})

// The examples (examples/<name>/) use the helpers as a consumer would: by their package name (`mandate/agent`,
// …, decision 0014), never src/ or sdk/ by path; a relative import stays in the example's own folder.
const examples = readdirSync('examples', { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.ts'))
  .map((file) => `examples/${file}`)

it('finds the examples', () => {
  expect(examples).toContain('examples/mcp-tickets/server.ts')
})

it.each(examples)('%s imports only mandate/<export>, its own folder and node: builtins', (file) => {
  const folder = file.split('/').slice(0, 2).join('/')
  const outside = [...readFileSync(file, 'utf8').matchAll(/\b(?:from|import)\s*\(?\s*'([^']*)'/g)]
    .map((m) => m[1] as string)
    .filter((specifier) =>
      specifier.startsWith('.')
        ? !join(dirname(file), specifier).startsWith(`${folder}/`)
        : !specifier.startsWith('node:') && !sdkSpecifiers.includes(specifier),
    )
  expect(outside).toEqual([])
})
