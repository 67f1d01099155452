// Starts the three servers the bench compares, each on a loopback port: Mandate as `npm start` runs it
// (plus the bench's own documents) with production settings on a fresh database, and the two baselines.
import { freePort, type Server, spawnServer, waitUntilOk } from './processes.ts'

export type ServerName = 'baseline-bare' | 'baseline-row' | 'mandate'
export const SERVER_NAMES: readonly ServerName[] = ['baseline-bare', 'baseline-row', 'mandate']

export interface Target extends Server {
  name: ServerName
  origin: string
  /** Mandate's Prometheus metrics (its management port). */
  metricsUrl?: string
}

const root = new URL('../', import.meta.url)
const path = (relative: string) => new URL(relative, root).pathname

export async function startMandate(databaseUrl: string): Promise<Target> {
  const [port, adminPort, managementPort] = [await freePort(), await freePort(), await freePort()]
  const origin = `http://127.0.0.1:${port}`
  const server = spawnServer(
    [path('src/cli/main.ts'), 'serve', '--apply', path('examples'), path('policy-paths'), path('bench/documents')],
    {
      MANDATE_DATABASE_URL: databaseUrl,
      MANDATE_ISSUER: origin,
      MANDATE_MASTER_KEY: Buffer.alloc(32, 9).toString('base64'),
      MANDATE_PORT: String(port),
      MANDATE_ADMIN_PORT: String(adminPort),
      MANDATE_MANAGEMENT_PORT: String(managementPort),
      MANDATE_LOG_LEVEL: 'warn',
      MANDATE_SHUTDOWN_DELAY: '0s', // no load balancer to wait for
      // One client drives all the load: its request limit is raised (not switched off, so its cost is measured).
      MANDATE_RATE_LIMITS__REQUESTS_PER_CLIENT: '100000000',
      // Each request in flight reserves a failed authentication until it succeeds: with the default 60,
      // one client with 64 requests in flight is refused 429 although none fails.
      MANDATE_RATE_LIMITS__FAILED_AUTH_PER_CLIENT: '100000000',
    },
  )
  await waitUntilOk(`http://127.0.0.1:${managementPort}/health/ready`, server.process)
  return { ...server, name: 'mandate', origin, metricsUrl: `http://127.0.0.1:${managementPort}/metrics` }
}

/** databaseUrl: the per-row baseline; without it, the bare one. */
export async function startBaseline(databaseUrl?: string): Promise<Target> {
  const port = await freePort()
  const origin = `http://127.0.0.1:${port}`
  const server = spawnServer([path('bench/baseline.ts')], {
    BASELINE_PORT: String(port),
    ...(databaseUrl ? { BASELINE_DATABASE_URL: databaseUrl } : {}),
  })
  await waitUntilOk(`${origin}/.well-known/openid-configuration`, server.process)
  return { ...server, name: databaseUrl ? 'baseline-row' : 'baseline-bare', origin }
}
