// compose.yaml and the image it builds must not carry a publicly known administrator, nor a person with a
// published password: the README publishes demo-admin's secret and alice's password, so only the quickstart
// (`npm start`) may apply them.
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

type Doc = { kind?: string; metadata?: { name?: string }; spec?: { scopes?: string[]; passwordHash?: string } }

/** The documents `--apply <paths>` would read, less the skipped folders. */
async function documents(paths: string[], skip: string[] = []): Promise<Doc[]> {
  const files = (await yamlFiles(paths.map((path) => `${root}${path}`)))
    .map((file) => relative(root, file))
    .filter((file) => !skip.some((entry) => file === entry || file.startsWith(`${entry}/`)))
  return files.flatMap((file) => parseAllDocuments(read(file)).map((doc) => doc.toJS() as Doc))
}

/** Client names holding mandate:admin among the documents `--apply <paths>` would read. */
const adminClients = async (paths: string[], skip: string[] = []): Promise<string[]> =>
  (await documents(paths, skip))
    .filter((doc) => doc?.kind === 'Client' && doc.spec?.scopes?.includes('mandate:admin'))
    .map((doc) => doc.metadata?.name as string)

/** Users with a password among them (the demo's is published). */
const usersWithPasswords = async (paths: string[], skip: string[] = []): Promise<string[]> =>
  (await documents(paths, skip))
    .filter((doc) => doc?.kind === 'User' && doc.spec?.passwordHash)
    .map((doc) => doc.metadata?.name as string)

const appliedBy = (command: string[]) => command.slice(command.indexOf('--apply') + 1)

it('gives a compose deployment no demo administrator, only the operator-chosen bootstrap secret', async () => {
  const { command, environment } = compose.services.mandate
  expect(await adminClients(appliedBy(command), dockerignore)).toEqual([])
  expect(await usersWithPasswords(appliedBy(command), dockerignore)).toEqual([])
  expect(environment.MANDATE_BOOTSTRAP_ADMIN_SECRET).toMatch(/^\$\{MANDATE_BOOTSTRAP_ADMIN_SECRET:\?.+\}$/)
})

it('keeps the demo administrator in the quickstart, which the README walk-through uses', async () => {
  const start = (JSON.parse(read('package.json')) as { scripts: { start: string } }).scripts.start
  expect(await adminClients(appliedBy(start.split(' ')))).toEqual(['demo-admin'])
  // Alice, the demo person; ada, the demo administrator person of the admin console.
  expect((await usersWithPasswords(appliedBy(start.split(' ')))).sort()).toEqual(['ada', 'alice'])
  expect(read('README.md')).toContain('-u demo-admin:demo-admin-demo-secret')
  expect(read('README.md')).toContain("the demo's is ada, password ada-demo-password")
})
