// The helpers as a consumer installs them: built by the prepack command, laid out in a folder outside the
// repo as node_modules/mandate (package.json + the built files) beside only the packages they may import,
// then imported and used by plain `node` (no flags, no type stripping) against the real app.
import { execFile } from 'node:child_process'
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { useDatabase } from '../support/database.ts'
import { personToken } from '../support/idp.ts'
import { introspect, secrets } from '../support/oauth.ts'
import { exportsOf, prepack, root, SDK_PACKAGES, sdkSpecifiers } from '../support/sdk.ts'
import { useServer } from '../support/server.ts'

const run = promisify(execFile)
const t = useDatabase()
const server = useServer(t)
const consumer = mkdtempSync(join(tmpdir(), 'mandate-consumer-'))
const installed = join(consumer, 'node_modules', 'mandate')

beforeAll(async () => {
  // The prepack command itself (npm runs it before `npm pack`), built into the installed copy.
  expect(prepack).toMatch(/^tsc -p sdk\/tsconfig\.build\.json$/)
  await run(
    process.execPath,
    [
      `${root}node_modules/typescript/bin/tsc`,
      ...prepack.split(' ').slice(1),
      '--outDir',
      join(installed, 'sdk', 'dist'),
    ],
    { cwd: root },
  )
  cpSync(`${root}package.json`, join(installed, 'package.json'))
  for (const name of SDK_PACKAGES) symlinkSync(`${root}node_modules/${name}`, join(consumer, 'node_modules', name))
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ type: 'module', private: true }))
}, 30_000)
afterAll(() => rmSync(consumer, { recursive: true, force: true }))

/** Runs an ES module in the consumer folder with plain node and a bare environment; its JSON output. */
async function node(source: string, env: Record<string, string> = {}): Promise<unknown> {
  const file = join(consumer, `script-${Math.random().toString(36).slice(2)}.mjs`)
  writeFileSync(file, source)
  const { stdout } = await run(process.execPath, [file], {
    cwd: consumer,
    env: { PATH: process.env.PATH ?? '', ...env },
  })
  return JSON.parse(stdout)
}

it('serves every export of package.json as built JavaScript and declarations', async () => {
  expect(sdkSpecifiers).toContain('mandate/agent')
  for (const [subpath, conditions] of Object.entries(exportsOf)) {
    const name = subpath.slice(2)
    expect(conditions).toEqual({
      'mandate-source': `./sdk/${name}.ts`,
      types: `./sdk/dist/${name}.d.ts`,
      default: `./sdk/dist/${name}.js`,
    })
  }
  const names = await node(
    `const specifiers = ${JSON.stringify(sdkSpecifiers)}
    const out = {}
    for (const specifier of specifiers) out[specifier] = Object.keys(await import(specifier)).sort()
    console.log(JSON.stringify(out))`,
  )
  expect(names).toMatchObject({ 'mandate/agent': ['MandateError', 'mandateAgent'] })
  for (const specifier of sdkSpecifiers)
    expect((names as Record<string, string[]>)[specifier]?.length).toBeGreaterThan(0)
})

it('runs an agent from the installed package: start, exchange, complete', async () => {
  const result = (await node(
    `import { mandateAgent, MandateError } from 'mandate/agent'
    const agent = await mandateAgent({ issuer: process.env.ISSUER, clientId: 'agent-one', clientSecret: process.env.SECRET })
    const task = await agent.startTask({ subjectToken: process.env.ALICE, purpose: 'p', resources: ['https://tickets.test/'] })
    const token = await task.exchange({ resource: 'https://tickets.test/', scope: 'tickets:read' })
    const refused = await task.exchange({ resource: 'https://tickets.test/', scope: 'admin:all' }).catch((e) => e)
    const completed = await task.complete()
    console.log(JSON.stringify({ token: token.accessToken, scope: token.scope, refused: refused instanceof MandateError && refused.error, completed }))`,
    { ISSUER: server.issuer, SECRET: secrets['agent-one'] as string, ALICE: await personToken() },
  )) as { token: string; scope: string; refused: string; completed: { revokedTokens: number } }
  expect(result).toMatchObject({ scope: 'tickets:read', refused: 'invalid_scope', completed: { revokedTokens: 1 } })
  expect(await introspect(server.url, result.token)).toEqual({ active: false })
})
