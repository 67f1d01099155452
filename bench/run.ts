// `npm run bench`: throughput and latency of the hot paths against a real server process and the
// machine's Postgres (BENCH_DATABASE_URL or TEST_DATABASE_URL). Measures; asserts nothing.
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:net'
import autocannon from 'autocannon'
import pg from 'pg'

const base =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const seconds = Number(process.env.BENCH_SECONDS ?? 10)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16)
const root = new URL('../', import.meta.url)

const free = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })

const name = `mandate_bench_${randomUUID().replaceAll('-', '').slice(0, 12)}`
const admin = new pg.Client({ connectionString: base })
await admin.connect()
await admin.query(`create database ${name}`)
const url = Object.assign(new URL(base), { pathname: `/${name}` }).href
const [port, adminPort, managementPort] = [await free(), await free(), await free()]
const issuer = `http://127.0.0.1:${port}`

const server = spawn(
  process.execPath,
  [
    new URL('src/cli/main.ts', root).pathname,
    'serve',
    '--apply',
    new URL('examples', root).pathname,
    new URL('policy-paths', root).pathname,
  ],
  {
    env: {
      PATH: process.env.PATH,
      MANDATE_DATABASE_URL: url,
      MANDATE_ISSUER: issuer,
      MANDATE_MASTER_KEY: Buffer.alloc(32, 9).toString('base64'),
      MANDATE_PORT: String(port),
      MANDATE_ADMIN_PORT: String(adminPort),
      MANDATE_MANAGEMENT_PORT: String(managementPort),
      MANDATE_LOG_LEVEL: 'warn',
      MANDATE_SHUTDOWN_DELAY: '0s', // no load balancer to wait for
      // One client drives all the load: its request limit is raised (not switched off, so its cost is measured).
      MANDATE_RATE_LIMITS__REQUESTS_PER_CLIENT: '100000000',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  },
)

try {
  for (let i = 0; i < 100; i++) {
    if ((await fetch(`http://127.0.0.1:${managementPort}/health/ready`).catch(() => undefined))?.ok) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`
  const form = 'application/x-www-form-urlencoded'
  const ccBody = 'grant_type=client_credentials&resource=https%3A%2F%2Ftickets.example%2F&scope=tickets%3Aread'
  const agent = basic('support-agent', 'support-agent-demo-secret')
  const token = (
    (await (
      await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: agent, 'content-type': form },
        body: ccBody,
      })
    ).json()) as { access_token: string }
  ).access_token

  const te = 'urn:ietf:params:oauth:grant-type:token-exchange'
  const person = (await import('node:child_process'))
    .execFileSync(process.execPath, [new URL('scripts/demo-person-token.ts', root).pathname, 'alice'])
    .toString()
    .trim()
  // The demo path requires a task: one task per subject (its delegator is the subject's sub).
  const startTask = async (subject: string) => {
    const response = await fetch(`${issuer}/tasks`, {
      method: 'POST',
      headers: { authorization: agent, 'content-type': form },
      body: new URLSearchParams({
        subject_token: subject,
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        purpose: 'benchmark',
        resource: 'https://tickets.example/',
      }),
    })
    return ((await response.json()) as { task_id: string }).task_id
  }
  const exchangeBody = async (subject: string) =>
    new URLSearchParams({
      grant_type: te,
      subject_token: subject,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      resource: 'https://tickets.example/',
      scope: 'tickets:read',
      task_id: await startTask(subject),
    }).toString()
  const teBody = await exchangeBody(person)
  // The agent's delegated token (our own JWT, of the task), which its triage sub-agent exchanges in turn:
  // a lineage lookup of the subject and a child row. (An agent's own client_credentials token cannot be
  // its subject: an actor acting for itself is a cycle.)
  const delegated = (
    (await (
      await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: agent, 'content-type': form },
        body: teBody,
      })
    ).json()) as { access_token: string }
  ).access_token
  const ownSubject = new URLSearchParams({
    grant_type: te,
    subject_token: delegated,
    subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    audience: 'tickets',
    scope: 'tickets:read',
  }).toString()
  const scenarios = [
    { title: 'client_credentials (JWT + lineage row)', path: '/token', auth: agent, body: ccBody },
    {
      title: 'introspection of a JWT access token',
      path: '/token/introspection',
      auth: basic('tickets-api', 'tickets-api-demo-secret'),
      body: `token=${token}`,
    },
    {
      title: 'token exchange for a task, foreign subject (IdP JWT → delegated token)',
      path: '/token',
      auth: agent,
      body: teBody,
    },
    {
      title: "token exchange by a sub-agent of the agent's token (lineage lookup + child row)",
      path: '/token',
      auth: basic('triage-subagent', 'triage-subagent-demo-secret'),
      body: ownSubject,
    },
  ]
  const results: string[] = []
  for (const scenario of scenarios) {
    const run = (duration: number) =>
      autocannon({
        url: `${issuer}${scenario.path}`,
        method: 'POST',
        connections,
        duration,
        headers: { authorization: scenario.auth, 'content-type': form },
        body: scenario.body,
      })
    await run(2) // warm-up: JIT, pools, the client-secret verification cache
    const result = await run(seconds)
    results.push(
      `| ${scenario.title} | ${Math.round(result.requests.average)} | ${result.latency.p50} | ${result.latency.p99} | ${result.non2xx + result.errors} |`,
    )
  }
  process.stdout.write(
    `\n${seconds}s per scenario, ${connections} connections, server and Postgres and load generator on this machine (${(await import('node:os')).cpus().length} cores)\n\n` +
      '| scenario | req/s | p50 ms | p99 ms | non-2xx + errors |\n|---|---|---|---|---|\n' +
      `${results.join('\n')}\n`,
  )
} finally {
  server.kill('SIGTERM')
  await new Promise((resolve) => server.on('exit', resolve))
  await admin.query(`drop database if exists ${name} with (force)`)
  await admin.end()
}
