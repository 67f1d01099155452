// The README's agent story is true: every line of its TypeScript is a line of scripts/demo-agent.ts, and that
// script (`npm run demo:agent`) runs against the real app serving the demo configuration, as `npm start` does.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { decodeJwt } from 'jose'
import { expect, it } from 'vitest'
import { useDatabase } from '../support/database.ts'
import { post } from '../support/oauth.ts'
import { root } from '../support/sdk.ts'
import { useServer } from '../support/server.ts'

const run = promisify(execFile)
const t = useDatabase()
const server = useServer(t, { apply: [`${root}examples`, `${root}policy-paths`] })
const script = readFileSync(`${root}scripts/demo-agent.ts`, 'utf8').split('\n')
const manifest = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { scripts: Record<string, string> }

it("shows only lines of the demo script in the README's TypeScript", () => {
  const readme = readFileSync(`${root}README.md`, 'utf8')
  const block = /```ts\n(import \{ mandateAgent \} from 'mandate\/agent'\n[\s\S]*?)```/.exec(readme)?.[1]
  const lines = (block ?? '').split('\n').filter((line) => line.trim() !== '')
  expect(lines.length).toBeGreaterThanOrEqual(8)
  expect(lines.filter((line) => !script.includes(line))).toEqual([])
})

it('runs the demo script: task, exchange, hand-down with the chain nested, completion', async () => {
  expect(manifest.scripts['demo:agent']).toBe('node --conditions=mandate-source scripts/demo-agent.ts')
  const { stdout } = await run(process.execPath, ['--conditions=mandate-source', 'scripts/demo-agent.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', MANDATE_ISSUER: server.issuer },
  })
  const { task, token, read } = JSON.parse(stdout) as Record<string, string>
  expect(decodeJwt(read as string)).toMatchObject({
    sub: 'alice',
    act: { sub: 'triage-subagent', act: { sub: 'support-agent' } },
    task_id: task,
    scope: 'tickets:read',
  })
  for (const issued of [token, read]) {
    const response = await post(
      `${server.url}/token/introspection`,
      { token: issued },
      { clientId: 'tickets-api', secret: 'tickets-api-demo-secret' },
    )
    expect(await response.json()).toEqual({ active: false })
  }
  const row = await t.db
    .selectFrom('tasks')
    .select('outcome')
    .where('task_id', '=', task as string)
    .executeTakeFirst()
  expect(row).toEqual({ outcome: 'succeeded' })
})
