// Slow or huge requests end fast, at every endpoint of every listener: a declared oversized body is 413
// before a byte of it is read, a longer chunked one is cut at the limit, a body or headers trickled in
// are cut off after their timeout (408), and each refusal closes the connection.
import { describe, expect, it } from 'vitest'
import { MAX_BODY_BYTES } from '../../src/http/bounded-body.ts'
import { useDatabase, writtenRows } from '../support/database.ts'
import { basic } from '../support/oauth.ts'
import { rawConnection, rawRequest } from '../support/raw-http.ts'
import { useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t, { env: { MANDATE_HTTP__HEADERS_TIMEOUT: '2s', MANDATE_HTTP__BODY_TIMEOUT: '2s' } })

const tooLarge = { error: 'invalid_request', error_description: 'request body is too large' }
const form = 'Content-Type: application/x-www-form-urlencoded'
const endpoints = () => [
  [server.url, 'POST', '/token'],
  [server.url, 'POST', '/token/introspection'],
  [server.url, 'POST', '/token/revocation'],
  [server.url, 'POST', '/tasks'],
  [server.url, 'POST', '/tasks/some-task/complete'],
  [server.adminUrl, 'GET', '/admin/v1/audit'],
  [server.managementUrl, 'GET', '/metrics'],
]

describe('request bounds', () => {
  it('refuses a declared oversized body with 413 before reading it, at every endpoint', async () => {
    const before = await writtenRows(t.db)
    for (const [base, method, path] of endpoints()) {
      // Only the headers are sent: the answer cannot wait for the body.
      const answer = await rawRequest(
        base as string,
        `${method} ${path} HTTP/1.1\nHost: x\n${form}\nContent-Length: 10000000`,
      )
      expect({ path, status: answer.status, body: answer.body, closed: answer.closed }).toEqual({
        path,
        status: 413,
        body: tooLarge,
        closed: true,
      })
      expect(answer.headers['cache-control']).toContain('no-store')
      expect(answer.afterMs).toBeLessThan(1000)
    }
    expect(await writtenRows(t.db)).toEqual(before)
  })

  it('answers an unknown path at once, before any of its body is read, on every listener', async () => {
    for (const base of [server.url, server.adminUrl, server.managementUrl]) {
      const connection = rawConnection(base)
      connection.write(
        `POST /no-such-endpoint HTTP/1.1\r\nHost: x\r\n${form}\r\nContent-Length: 100\r\nConnection: close\r\n\r\nab`,
      )
      // No body timeout to sit out: the route is unknown whatever the body says.
      const answer = await Promise.race([
        connection.answer,
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 1500)),
      ])
      expect(answer === undefined ? 'still waiting' : 'answered').toBe('answered')
    }
    const answer = await rawRequest(
      server.url,
      `POST /no-such-endpoint HTTP/1.1\nHost: x\n${form}\nContent-Length: 10000000`,
    )
    expect({ status: answer.status, body: answer.body }).toEqual({
      status: 404,
      body: { error: 'not_found', error_description: 'no such endpoint' },
    })
  })

  it('cuts a chunked body off at the limit with 413', async () => {
    for (const path of ['/token', '/token/introspection', '/tasks']) {
      const connection = rawConnection(server.url)
      connection.write(`POST ${path} HTTP/1.1\r\nHost: x\r\n${form}\r\nTransfer-Encoding: chunked\r\n\r\n`)
      const chunk = 'a'.repeat(8 * 1024)
      for (let sent = 0; sent <= MAX_BODY_BYTES; sent += chunk.length) connection.write(`2000\r\n${chunk}\r\n`)
      const answer = await connection.answer
      expect({ path, status: answer.status, body: answer.body, closed: answer.closed }).toEqual({
        path,
        status: 413,
        body: tooLarge,
        closed: true,
      })
    }
  })

  it('reads a body of exactly the limit', async () => {
    const body = `grant_type=client_credentials&resource=https://tickets.test/&pad=${'a'.repeat(MAX_BODY_BYTES - 65)}`
    expect(body.length).toBe(MAX_BODY_BYTES)
    const response = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('agent-one', 'agent-one-secret-0123456789'),
      },
      body,
    })
    expect(response.status).toBe(200)
  })

  it('cuts off a body trickled one byte every 2 s with 408 once the body timeout passes', async () => {
    const before = await writtenRows(t.db)
    const trickled = async (path: string) => {
      const connection = rawConnection(server.url)
      connection.write(`POST ${path} HTTP/1.1\r\nHost: x\r\n${form}\r\nContent-Length: 100\r\n\r\na`)
      const trickle = setInterval(() => connection.write('a'), 2000)
      const answer = await connection.answer.finally(() => clearInterval(trickle))
      return { path, status: answer.status, body: answer.body, closed: answer.closed, afterMs: answer.afterMs }
    }
    const paths = ['/token', '/token/introspection', '/token/revocation', '/tasks']
    const answers = await Promise.all(paths.map(trickled))
    for (const answer of answers) {
      expect(answer).toEqual({
        path: answer.path,
        status: 408,
        body: { error: 'invalid_request', error_description: 'request body was not received in time' },
        closed: true,
        afterMs: answer.afterMs,
      })
      // MANDATE_HTTP__BODY_TIMEOUT is 2 s here.
      expect(answer.afterMs).toBeGreaterThan(1900)
      expect(answer.afterMs).toBeLessThan(3500)
    }
    expect(await writtenRows(t.db)).toEqual(before)
  })

  it('closes a connection whose headers trickle in, once the headers timeout passes', async () => {
    const trickled = async (base: string) => {
      const connection = rawConnection(base)
      connection.write('GET /jwks HTTP/1.1\r\nHost: x\r\n')
      const trickle = setInterval(() => connection.write('X-Slow: 1\r\n'), 500)
      const answer = await connection.answer.finally(() => clearInterval(trickle))
      return { base, status: answer.status, closed: answer.closed, afterMs: answer.afterMs }
    }
    const answers = await Promise.all([server.url, server.adminUrl, server.managementUrl].map(trickled))
    for (const answer of answers) {
      // Node answers 408 itself (no JSON: no handler has the request yet) and closes.
      expect(answer).toMatchObject({ status: 408, closed: true })
      // Headers timeout 2 s, checked every second.
      expect(answer.afterMs).toBeLessThan(4000)
    }
  })
})
