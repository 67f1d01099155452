// The README's walk-through is true: its shell block runs, as written, against the demo configuration
// (examples/, policy-paths/) on a real server, from Alice signing in with `mandate login` to the task's
// tokens ending with the task. Only the URLs are this server's.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'
import { useDatabase } from '../support/database.ts'
import { useServer } from '../support/server.ts'

const run = promisify(execFile)
const root = new URL('../../', import.meta.url).pathname
const t = useDatabase()
const server = useServer(t, { apply: [`${root}examples`, `${root}policy-paths`] })

it('runs the quickstart walk-through: Alice signs in, a task, exchanges, introspection, completion', async () => {
  const readme = readFileSync(`${root}README.md`, 'utf8')
  const block = /### Try it against the demo configuration\n\n```sh\n([\s\S]*?)```/.exec(readme)?.[1]
  expect(block).toBeDefined()
  const script = (block as string)
    .replaceAll('http://localhost:3000', server.url)
    .replaceAll('http://localhost:3001', server.adminUrl)
    .replaceAll('http://localhost:9000', server.managementUrl)
  const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', MANDATE_ISSUER: server.issuer },
    timeout: 120_000,
  })
  const answers = jsonObjects(stdout)
  // Alice's own token, from signing in to the agent app: it names the agent alone in may_act.
  expect(answers).toContainEqual(
    expect.objectContaining({
      active: true,
      sub: 'alice',
      client_id: 'support-agent',
      may_act: expect.objectContaining({ sub: 'support-agent' }),
    }),
  )
  // The triage sub-agent's token: Alice's, with the chain nested and the task carried.
  expect(answers).toContainEqual(
    expect.objectContaining({
      active: true,
      sub: 'alice',
      act: { sub: 'triage-subagent', act: { sub: 'support-agent' } },
      task_id: expect.any(String),
    }),
  )
  expect(answers).toContainEqual(expect.objectContaining({ error: 'invalid_scope' }))
  expect(answers).toContainEqual(expect.objectContaining({ status: 'completed', revoked_tokens: 2 }))
  expect(answers).toContainEqual({ active: false })
  // Alice signed in at Mandate: her token is in lineage, granted to the agent app through the code flow.
  const signIn = await t.db
    .selectFrom('issued_tokens')
    .select(['sub', 'client_id', 'grant_type', 'claims'])
    .where('grant_type', '=', 'authorization_code')
    .executeTakeFirst()
  expect(signIn).toMatchObject({ sub: 'alice', client_id: 'support-agent' })
  expect(signIn?.claims).toMatchObject({ may_act: { sub: 'support-agent' }, policy_path: 'acme/support/agent-sign-in' })
}, 180_000)

/** Every top-level JSON object printed (curl prints them back to back, without newlines). */
function jsonObjects(text: string): unknown[] {
  const found: unknown[] = []
  let depth = 0
  let start = -1
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const char = text[i]
    if (inString) {
      if (char === '\\') i++
      else if (char === '"') inString = false
    } else if (char === '"' && depth > 0) inString = true
    else if (char === '{') {
      if (depth === 0) start = i
      depth++
    } else if (char === '}' && depth > 0) {
      depth--
      if (depth === 0) {
        try {
          found.push(JSON.parse(text.slice(start, i + 1)))
        } catch {}
      }
    }
  }
  return found
}
