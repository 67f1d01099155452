// A policy change through the admin API reaches every server process within one second (issue 13): the real
// `mandate serve` in a child process on the same database, its own catalog in memory, while this process's
// admin API changes a policy path. The catalog is read per configuration generation, so the next request the
// other process answers is decided by the new version; measured from the change's answer, at most 1 s.
import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cliPath } from '../support/cli.ts'
import { useDatabase } from '../support/database.ts'
import { accessToken, clientCredentials } from '../support/oauth.ts'
import { TEST_MASTER_KEY, useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)
const NAME = 'acme/services/agent-one-other'
const OTHER = 'https://other.test/api'
const WITHIN = 1000 // ms

let child: ChildProcess
let output = ''
let exited: string | undefined
let other: string
let token: string

async function freePort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as { port: number }
  await new Promise((resolve) => probe.close(resolve))
  return port
}

beforeAll(async () => {
  token = await accessToken(server.url, 'mandate-admin', { resource: 'urn:mandate:admin', scope: 'mandate:admin' })
  child = spawn(process.execPath, [cliPath, 'serve'], {
    env: {
      PATH: process.env.PATH ?? '',
      MANDATE_DATABASE_URL: t.url as string,
      MANDATE_DATABASE_TIMEOUT: '10s',
      MANDATE_MASTER_KEY: TEST_MASTER_KEY,
      MANDATE_ISSUER: `http://127.0.0.1:${await freePort()}`,
      MANDATE_MIGRATE: 'off',
      MANDATE_PORT: '0',
      MANDATE_ADMIN_PORT: '0',
      MANDATE_MANAGEMENT_PORT: '0',
      MANDATE_LOG_LEVEL: 'info',
      MANDATE_SHUTDOWN_DELAY: '0s',
      MANDATE_JANITOR__INTERVAL: '0s',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  child.on('exit', (code, signal) => {
    exited = `exited with ${code ?? signal}`
  })
  const deadline = Date.now() + 30_000
  while (!output.includes('mandate is serving')) {
    if (exited || Date.now() > deadline) throw new Error(`the server did not start (${exited}): ${output}`)
    await sleep(50)
  }
  const serving = output.split('\n').find((line) => line.includes('"mandate is serving"')) ?? ''
  const { ports } = JSON.parse(serving) as { ports: { public: number } }
  other = `http://127.0.0.1:${ports.public}`
}, 40_000)

afterAll(async () => {
  if (child && !exited) {
    const gone = new Promise((resolve) => child.on('exit', resolve))
    child.kill('SIGTERM')
    await gone
  }
})

const put = (spec: Record<string, unknown>, ifMatch: string, confirmBroadening?: boolean) =>
  fetch(`${server.adminUrl}/admin/v1/policy-paths/${NAME}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'if-match': ifMatch },
    body: JSON.stringify({
      document: {
        apiVersion: 'mandate/v1',
        kind: 'PolicyPath',
        metadata: { name: NAME, description: 'client_credentials governed by a path' },
        spec: {
          bindings: [{ client: 'agent-one', resource: OTHER, grantType: 'client_credentials' }],
          tokenLifetime: '1m',
          ...spec,
        },
      },
      reason: 'seen everywhere within a second',
      ...(confirmBroadening ? { confirmBroadening } : {}),
    }),
  })
const ask = () => clientCredentials(other, 'agent-one', { resource: OTHER, scope: 'other:read' })

/** Milliseconds from now until the other process answers `status`, asking again and again. */
async function untilAnswered(status: number): Promise<number> {
  const started = performance.now()
  for (;;) {
    const response = await ask()
    await response.arrayBuffer()
    const elapsed = performance.now() - started
    if (response.status === status) return elapsed
    if (elapsed > 5 * WITHIN) throw new Error(`still ${response.status} after ${Math.round(elapsed)} ms`)
    await sleep(10)
  }
}

describe('a policy change through the admin API, seen by another server process', () => {
  it('narrows and broadens the other process within one second of the answer', async () => {
    expect((await ask()).status).toBe(200)
    const narrowed = await put({ scopes: [] }, '"1"')
    expect(narrowed.status).toBe(200)
    expect(await untilAnswered(400)).toBeLessThanOrEqual(WITHIN)
    const broadened = await put({ scopes: ['other:read'] }, '"2"', true)
    expect(broadened.status).toBe(200)
    expect(await untilAnswered(200)).toBeLessThanOrEqual(WITHIN)
    expect(exited).toBeUndefined()
  })
})
