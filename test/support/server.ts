// The real app on real sockets: createApp with the file's database, the three listeners on port 0,
// the fixture documents applied through `mandate apply`'s own code path.
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll } from 'vitest'
import { type App, createApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config/load.ts'
import { applyTimeouts, createHttpServer } from '../../src/http/listen.ts'
import { type Clock, systemClock } from '../../src/lib/clock.ts'
import { type ApplyOptions, applyDocuments } from '../../src/manifests/apply.ts'
import { createLog, type Log } from '../../src/observability/log.ts'
import type { TestDatabase } from './database.ts'

export const TEST_MASTER_KEY = Buffer.alloc(32, 7).toString('base64')
export const fixtures = new URL('./fixtures/', import.meta.url).pathname
/** Tests serve JWKS and receive webhooks on 127.0.0.1, which the outbound rules refuse unless allowed. */
const TEST_ALLOW_HOSTS = '127.0.0.1'
/** How tests apply documents: as `mandate apply` would, with the test loopback host allowed. */
export const TEST_APPLY: ApplyOptions = {
  clock: systemClock,
  actor: 'test',
  outbound: { requireHttps: false, allowHosts: [TEST_ALLOW_HOSTS] },
}

export interface TestServer {
  readonly app: App
  readonly url: string
  readonly adminUrl: string
  readonly managementUrl: string
  readonly issuer: string
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void

async function bind(): Promise<{ server: Server; port: number; setHandler(handler: Handler): void }> {
  let handler: Handler = (_req, res) => res.writeHead(503).end()
  // The servers `mandate serve` opens (timeout checks included); timeouts are set once the config is read.
  const server = createHttpServer((req, res) => handler(req, res))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    server,
    port: (server.address() as AddressInfo).port,
    setHandler: (next) => {
      handler = next
    },
  }
}

/** Starts the real app for this file; env entries override the test defaults. */
export function useServer(
  t: TestDatabase,
  options: { env?: Record<string, string>; apply?: string[]; clock?: Clock; log?: Log } = {},
): TestServer {
  let state: (TestServer & { close(): Promise<void> }) | undefined
  beforeAll(async () => {
    const [pub, adm, mgmt] = await Promise.all([bind(), bind(), bind()])
    const issuer = `http://127.0.0.1:${pub.port}`
    const config = loadConfig({
      MANDATE_ISSUER: issuer,
      MANDATE_MASTER_KEY: TEST_MASTER_KEY,
      MANDATE_MIGRATE: 'off',
      MANDATE_LOG_LEVEL: 'silent',
      MANDATE_OUTBOUND__ALLOW_HOSTS: TEST_ALLOW_HOSTS,
      // No janitor on a timer: a run would race tests that move the clock (janitor tests run it themselves).
      MANDATE_JANITOR__INTERVAL: '0s',
      // The admin console's redirect URI and form origin: the admin listener as the tests reach it.
      MANDATE_ADMIN_CONSOLE__URL: `http://127.0.0.1:${adm.port}`,
      ...options.env,
    })
    const app = await createApp(config, {
      database: t.database,
      log: options.log ?? createLog(process.env.TEST_LOG_LEVEL ?? 'silent'),
      ...(options.clock ? { clock: options.clock } : {}),
    })
    for (const { server } of [pub, adm, mgmt]) applyTimeouts(server, config.http)
    pub.setHandler(app.public.callback())
    adm.setHandler(app.admin.callback())
    mgmt.setHandler(app.management.callback())
    const applied = await applyDocuments(t.db, options.apply ?? [fixtures], TEST_APPLY)
    if (applied.findings.length > 0) throw new Error(`fixtures do not apply: ${JSON.stringify(applied.findings)}`)
    state = {
      app,
      issuer,
      url: issuer,
      adminUrl: `http://127.0.0.1:${adm.port}`,
      managementUrl: `http://127.0.0.1:${mgmt.port}`,
      async close() {
        for (const { server } of [pub, adm, mgmt]) server.closeAllConnections()
        await Promise.all([pub, adm, mgmt].map(({ server }) => new Promise((resolve) => server.close(resolve))))
        await app.close()
      },
    }
  })
  afterAll(async () => {
    await state?.close()
  })
  const get = () => {
    if (!state) throw new Error('useServer(): only available inside tests and hooks')
    return state
  }
  return {
    get app() {
      return get().app
    },
    get url() {
      return get().url
    },
    get adminUrl() {
      return get().adminUrl
    },
    get managementUrl() {
      return get().managementUrl
    },
    get issuer() {
      return get().issuer
    },
  }
}
