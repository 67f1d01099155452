// Which files may import which packages. Everything not listed may import only zod, jose, node:*
// and relative modules. Adding a row is a design decision: review it as one.
import { readdirSync, readFileSync } from 'node:fs'
import { expect, it } from 'vitest'

const allowed: Array<[files: RegExp, packages: RegExp]> = [
  [/^src\/(oidc\/|app\.ts$)/, /^oidc-provider$/],
  [
    /^src\/(db\/|clients\/(store|plan-apply)\.ts$|resources\/(store|plan-apply)\.ts$|keys\/(store|ring)\.ts$|lineage\/|manifests\/(apply|plan)\.ts$|oidc\/|app\.ts$|cli\/)/,
    /^(kysely|kysely\/migration|pg|@electric-sql\/pglite)$/,
  ],
  [/^src\/(app\.ts$|http\/|admin\/|observability\/|cli\/|oidc\/)/, /^(koa|koa-mount|pino|prom-client)$/],
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

it('keeps pure modules free of I/O packages', () => {
  const pure = ['src/keys/lifecycle.ts', 'src/lib/duration.ts', 'src/lib/clock.ts', 'src/config/schema.ts']
  for (const file of pure) {
    expect(readFileSync(file, 'utf8')).not.toMatch(/from '(kysely|pg|koa|oidc-provider|node:fs|yaml)'/)
  }
})
