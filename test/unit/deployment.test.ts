// compose.yaml and the image it builds must not carry a publicly known administrator: the README
// publishes demo-admin's secret, so only the quickstart (`npm start`) may apply it.
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { expect, it } from 'vitest'
import { parse, parseAllDocuments } from 'yaml'
import { yamlFiles } from '../../src/manifests/load.ts'

const root = new URL('../../', import.meta.url).pathname
const read = (file: string) => readFileSync(`${root}${file}`, 'utf8')

const compose = parse(read('compose.yaml')) as {
  services: { mandate: { command: string[]; environment: Record<string, string> } }
}
const dockerignore = read('.dockerignore')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'))

/** Client names holding mandate:admin among the documents `--apply <paths>` would read. */
async function adminClients(paths: string[], skip: string[] = []): Promise<string[]> {
  const files = (await yamlFiles(paths.map((path) => `${root}${path}`)))
    .map((file) => relative(root, file))
    .filter((file) => !skip.some((entry) => file === entry || file.startsWith(`${entry}/`)))
  return files.flatMap((file) =>
    parseAllDocuments(read(file))
      .map((doc) => doc.toJS() as { kind?: string; metadata?: { name?: string }; spec?: { scopes?: string[] } })
      .filter((doc) => doc?.kind === 'Client' && doc.spec?.scopes?.includes('mandate:admin'))
      .map((doc) => doc.metadata?.name as string),
  )
}

const appliedBy = (command: string[]) => command.slice(command.indexOf('--apply') + 1)

it('gives a compose deployment no demo administrator, only the operator-chosen bootstrap secret', async () => {
  const { command, environment } = compose.services.mandate
  expect(await adminClients(appliedBy(command), dockerignore)).toEqual([])
  expect(environment.MANDATE_BOOTSTRAP_ADMIN_SECRET).toMatch(/^\$\{MANDATE_BOOTSTRAP_ADMIN_SECRET:\?.+\}$/)
})

it('keeps the demo administrator in the quickstart, which the README walk-through uses', async () => {
  const start = (JSON.parse(read('package.json')) as { scripts: { start: string } }).scripts.start
  expect(await adminClients(appliedBy(start.split(' ')))).toEqual(['demo-admin'])
  expect(read('README.md')).toContain('-u demo-admin:demo-admin-demo-secret')
})
