// Rate limits (RFC 6585 §4: 429 + Retry-After), checked before authentication: failed client
// authentications per claimed client id and per source address, requests per claimed client id. Failed
// authentication itself writes nothing: it is a metric and a sampled log line.
import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { RATE_LIMITED } from '../../src/http/rate-limits.ts'
import { createLog } from '../../src/observability/log.ts'
import { useDatabase, writtenRows } from '../support/database.ts'
import { basic, expectRejection, secrets } from '../support/oauth.ts'
import { useServer } from '../support/server.ts'

const t = useDatabase()
const limits = {
  MANDATE_RATE_LIMITS__WINDOW: '1m',
  MANDATE_RATE_LIMITS__FAILED_AUTH_PER_CLIENT: '3',
  MANDATE_RATE_LIMITS__FAILED_AUTH_PER_ADDRESS: '5',
  MANDATE_RATE_LIMITS__REQUESTS_PER_CLIENT: '6',
}
const lines: Array<Record<string, unknown>> = []
const capture = new Writable({
  write(chunk, _encoding, done) {
    lines.push(JSON.parse(chunk.toString()))
    done()
  },
})
// Behind one trusted proxy: the source address is the last X-Forwarded-For entry.
const proxied = useServer(t, { env: { ...limits, MANDATE_HTTP__TRUSTED_PROXIES: '1' } })
// Reached directly: X-Forwarded-For is nobody's word. Its log is kept to read the sampled lines.
const direct = useServer(t, { env: limits, log: createLog('info', capture) })

const token = (base: string, from: string, auth: string, params: Record<string, string> = {}) =>
  fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth, 'x-forwarded-for': from },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: 'https://tickets.test/', ...params }),
  })
const right = (client: string) => basic(client, secrets[client] as string)
const wrong = (client: string) => basic(client, 'not-the-secret-0000000000')

async function expectLimited(response: Response, maxWait: number): Promise<void> {
  const retryAfter = Number(response.headers.get('retry-after'))
  await expectRejection(response, { status: 429, ...RATE_LIMITED })
  expect(retryAfter).toBeGreaterThanOrEqual(1)
  expect(retryAfter).toBeLessThanOrEqual(maxWait)
}

async function metric(base: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text()
  const line = text.split('\n').find((row) => row.startsWith(`${name}{${labels}}`))
  return line ? Number(line.split(' ').at(-1)) : 0
}

describe('rate limits', () => {
  it('refuses a client id that failed authentication too often, whatever the address, even with the right secret', async () => {
    const before = await writtenRows(t.db)
    const limited = await metric(proxied.managementUrl, 'mandate_rate_limited_total', 'limit="failed_auth_client"')
    for (const address of ['10.1.0.1', '10.1.0.2', '10.1.0.3'])
      expect((await token(proxied.url, address, wrong('agent-one'))).status).toBe(401)
    // Three failures per minute: the next one is 20 s away.
    await expectLimited(await token(proxied.url, '10.1.0.4', right('agent-one')), 20)
    const tasks = await fetch(`${proxied.url}/tasks`, {
      method: 'POST',
      headers: { authorization: right('agent-one'), 'x-forwarded-for': '10.1.0.5' },
    })
    await expectLimited(tasks, 20)
    expect(await metric(proxied.managementUrl, 'mandate_rate_limited_total', 'limit="failed_auth_client"')).toBe(
      limited + 2,
    )
    expect(await writtenRows(t.db)).toEqual(before)
    // Another client from the same addresses is not affected.
    expect((await token(proxied.url, '10.1.0.1', right('agent-two'))).status).toBe(200)
  })

  it('bounds a concurrent burst of guesses too: each attempt reserves a failure before it is checked', async () => {
    const before = await writtenRows(t.db)
    const statuses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        token(proxied.url, `10.9.0.${i}`, wrong('sub-sub-agent')).then((response) => response.status),
      ),
    )
    // Three failures per minute for one client id: three guesses are checked (and fail), the rest wait.
    expect(statuses.filter((status) => status === 401)).toHaveLength(3)
    expect(statuses.filter((status) => status === 429)).toHaveLength(17)
    expect(await writtenRows(t.db)).toEqual(before)
  })

  it('refuses an address that failed authentication too often, at every endpoint, whatever client it names', async () => {
    const address = '10.2.0.1'
    const failures = [
      () => token(proxied.url, address, wrong('nobody-1')),
      () => token(proxied.url, address, wrong('nobody-2')),
      () =>
        fetch(`${proxied.url}/token/introspection`, {
          method: 'POST',
          headers: {
            authorization: wrong('nobody-3'),
            'x-forwarded-for': address,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: 'token=x',
        }),
      () =>
        fetch(`${proxied.url}/token/revocation`, {
          method: 'POST',
          headers: {
            authorization: wrong('nobody-4'),
            'x-forwarded-for': address,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: 'token=x',
        }),
      () => fetch(`${proxied.url}/tasks`, { method: 'POST', headers: { 'x-forwarded-for': address } }),
    ]
    for (const fail of failures) expect((await fail()).status).toBe(401)
    // Five per minute: the next one is 12 s away. A spoofed entry before the proxy's own changes nothing.
    await expectLimited(await token(proxied.url, address, right('agent-two')), 12)
    await expectLimited(await token(proxied.url, `192.0.2.77, ${address}`, right('agent-two')), 12)
    expect((await token(proxied.url, '10.2.0.2', right('agent-two'))).status).toBe(200)
  })

  it('refuses a client id that sent too many requests', async () => {
    const introspect = (address: string) =>
      fetch(`${proxied.url}/token/introspection`, {
        method: 'POST',
        headers: {
          authorization: right('rs-other'),
          'x-forwarded-for': address,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'token=x',
      })
    for (let i = 0; i < 6; i++) expect((await introspect(`10.3.0.${i}`)).status).toBe(200)
    // Six per minute: the next one is 10 s away.
    await expectLimited(await introspect('10.3.0.9'), 10)
    expect(await metric(proxied.managementUrl, 'mandate_rate_limited_total', 'limit="requests_client"')).toBe(1)
  })

  it('keys by the connection address when no proxy is trusted, ignoring X-Forwarded-For', async () => {
    const before = await writtenRows(t.db)
    for (let i = 0; i < 5; i++) expect((await token(direct.url, `10.4.0.${i}`, wrong(`nobody-${i}`))).status).toBe(401)
    await expectLimited(await token(direct.url, '10.4.0.9', right('agent-two')), 12)
    // The failures themselves: a metric and one sampled log line (at most one per endpoint per 10 s), no row.
    expect(await metric(direct.managementUrl, 'mandate_client_auth_failures_total', 'endpoint="token"')).toBe(5)
    const logged = lines.filter((line) => line.msg === 'client authentication failed')
    expect(logged).toEqual([
      expect.objectContaining({
        level: 'warn',
        endpoint: 'token',
        failures: 1,
        claimed_client_id: 'nobody-0',
        address: '127.0.0.1',
      }),
    ])
    expect(await writtenRows(t.db)).toEqual(before)
  })
})
