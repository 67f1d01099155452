// Which files may import which packages. Everything not listed may import only zod, jose, node:*
// and relative modules. Adding a row is a design decision: review it as one.
import { readdirSync, readFileSync } from 'node:fs'
import { expect, it } from 'vitest'

const allowed: Array<[files: RegExp, packages: RegExp]> = [
  [/^src\/(oidc\/|app\.ts$|token-exchange\/(grant|issue|denials|refusals|facts)\.ts$)/, /^oidc-provider$/],
  // The one internal module: DPoP nonces shared with oidc-provider (see src/oidc/internals.d.ts).
  [/^src\/oidc\/dpop-nonces\.ts$/, /^oidc-provider\/lib\/helpers\/challenge\.js$/],
  [
    /^src\/(db\/|janitor\/|[a-z-]+\/(store|plan-apply)\.ts$|lineage\/|manifests\/apply\.ts$|documents\/plan\.ts$|oidc\/|app\.ts$|cli\/|keys\/ring\.ts$|issuers\/verify\.ts$|token-exchange\/(grant|issue|refusals|facts)\.ts$|delegation\/(subject-token|targets|load-policy|task-facts)\.ts$|tasks-api\/|admin\/|audit\/write\.ts$|clients\/authenticate\.ts$|tasks\/(webhooks|complete)\.ts$|replay\/|dpop\/claim\.ts$)/,
    /^(kysely|kysely\/migration|pg|@electric-sql\/pglite)$/,
  ],
  [/^src\/(app\.ts$|http\/|admin\/|observability\/|cli\/|oidc\/|tasks-api\/)/, /^(koa|koa-mount|pino|prom-client)$/],
  [/^src\/(manifests\/load\.ts|config\/load\.ts)$/, /^yaml$/],
  [/^src\/cli\//, /^(commander|pino)$/],
]
const everywhere = /^(zod|jose)$/

const sources = readdirSync('src', { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.ts'))
  .map((file) => `src/${file}`)

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
  'src/http/claimed-client.ts',
  'src/http/address-key.ts',
  'src/http/token-buckets.ts',
  'src/lib/clock-skew.ts',
  'src/db/bounds.ts',
]
it.each(pure)('%s is pure: no I/O modules, no clock', (file) => {
  const text = readFileSync(file, 'utf8')
  expect(text).not.toMatch(/from '(kysely|pg|koa|oidc-provider|jose|node:fs|node:net|node:http|yaml)'/)
  expect(text).not.toMatch(/Date\.now\(|new Date\(\)/)
})
