// A lost database never ends the process: the real `mandate serve` in a child process, its database
// behind a TCP proxy, while requests run: every socket destroyed mid-request, the database refusing
// connections (stopped), its backends terminated. The process keeps running, answers 503 +
// Retry-After within MANDATE_DATABASE_TIMEOUT while the database is away, and recovers by itself.
import { setTimeout as sleep } from 'node:timers/promises'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ChildServer, startChildServer } from '../support/child-server.ts'
import { useDatabase } from '../support/database.ts'
import { admin as adminDatabase } from '../support/global-setup.ts'
import { accessToken, clientCredentials, post } from '../support/oauth.ts'
import { fixtures } from '../support/server.ts'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts'

const BOUND = 1 // seconds: MANDATE_DATABASE_TIMEOUT of the child
const SLACK = 1500
const t = useDatabase()
const tickets = 'https://tickets.test/'

let proxy: TcpProxy
let child: ChildServer
let base: string
let management: string

beforeAll(async () => {
  if (!t.url) return
  const target = new URL(t.url)
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) })
  child = await startChildServer(t, {
    args: ['--apply', fixtures],
    env: { MANDATE_DATABASE_URL: proxy.url(t.url), MANDATE_DATABASE_TIMEOUT: `${BOUND}s`, MANDATE_MIGRATE: 'off' },
  })
  base = child.url
  management = child.managementUrl
})

afterAll(async () => {
  proxy?.resume()
  await child?.stop()
  await proxy?.close()
})

/** The process must still run, whatever the test is waiting for. */
function expectAlive(): void {
  expect(child.exited(), `the server process died:\n${child.output().slice(-4000)}`).toBeUndefined()
}

async function answer(request: () => Promise<Response>) {
  const started = performance.now()
  const response = await request()
  await response.arrayBuffer()
  return { status: response.status, retryAfter: response.headers.get('retry-after'), ms: performance.now() - started }
}

const introspection = (token: string) => () =>
  post(`${base}/token/introspection`, { token }, { clientId: 'rs-tickets' })
const issue = () => clientCredentials(base, 'agent-one', { resource: tickets })

/** Polls until the process answers normally again, on its own. */
async function recovered(token: string): Promise<void> {
  const deadline = Date.now() + 20_000
  for (;;) {
    expectAlive()
    const response = await introspection(token)()
    const body = (await response.json()) as { active?: boolean }
    if (response.status === 200) {
      expect(body.active).toBe(true)
      break
    }
    expect(response.status).toBe(503)
    if (Date.now() > deadline) throw new Error('the server did not recover by itself')
    await sleep(100)
  }
  expect((await fetch(`${management}/health/ready`)).status).toBe(200)
}

describe.runIf(t.isPostgres)('the server process, when its database goes away mid-request', () => {
  it('keeps running when every connection is destroyed while requests hold them, and recovers', async () => {
    const token = await accessToken(base, 'agent-one')
    for (let round = 0; round < 3; round++) {
      proxy.pause()
      // Requests take pooled connections (and the LISTEN connection waits), then every socket dies.
      const inFlight = Array.from({ length: 12 }, (_, i) => answer(i % 2 ? issue : introspection(token)))
      await sleep(300)
      proxy.drop()
      proxy.resume()
      for (const result of await Promise.all(inFlight)) {
        expect([200, 503]).toContain(result.status)
        if (result.status === 503) expect(result.retryAfter).toBe('5')
      }
      await sleep(100)
      expectAlive()
      await recovered(token)
    }
  })

  it('answers 503 + Retry-After within the bound while the database is stopped under load, and recovers once it is back', async () => {
    const token = await accessToken(base, 'agent-one')
    proxy.pause()
    const inFlight = Array.from({ length: 6 }, (_, i) => answer(i % 2 ? issue : introspection(token)))
    await sleep(300)
    proxy.refuse() // stopped with -m immediate: every connection dies, new ones are refused
    try {
      for (const result of await Promise.all(inFlight)) expect(result.status).toBe(503)
      for (const request of [introspection(token), issue]) {
        const result = await answer(request)
        expect({ status: result.status, retryAfter: result.retryAfter }).toEqual({ status: 503, retryAfter: '5' })
        expect(result.ms).toBeLessThan(BOUND * 1000 + SLACK)
      }
      const ready = await answer(() => fetch(`${management}/health/ready`))
      expect(ready.status).toBe(503)
      expect(ready.ms).toBeLessThan(BOUND * 1000 + SLACK)
      expectAlive()
    } finally {
      proxy.resume()
    }
    await recovered(token)
  })

  it('keeps running when its backends are terminated under load (a failover), and recovers', async () => {
    const token = await accessToken(base, 'agent-one')
    let stop = false
    const statuses: number[] = []
    const load = (async () => {
      while (!stop) statuses.push((await answer(statuses.length % 2 ? issue : introspection(token))).status)
    })()
    const name = new URL(t.url as string).pathname.slice(1)
    for (let round = 0; round < 5; round++) {
      await sleep(150)
      await adminDatabase(t.url as string, async (db) => {
        await sql`select pg_terminate_backend(pid) from pg_stat_activity
          where datname = ${name} and application_name like 'mandate%' and pid <> pg_backend_pid()`.execute(db)
      })
    }
    stop = true
    await load
    expect(statuses.length).toBeGreaterThan(5)
    expect(statuses.filter((status) => status !== 200 && status !== 503)).toEqual([])
    expectAlive()
    await recovered(token)
  })
})
