// jsonErrors, the one renderer of our own edges' errors, on a real Koa listener: an HttpError as its table
// entry says (each challenge on its own header line), an outage as the 503, anything else as a bare 500.
import { createServer, get, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import Koa from 'koa'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DatabaseUnavailable } from '../../src/db/outage.ts'
import { jsonErrors } from '../../src/http/errors.ts'
import { HttpError } from '../../src/http/http-error.ts'
import type { Log } from '../../src/observability/log.ts'

const logged: string[] = []
const log = {
  warn: (_: object, msg: string) => logged.push(`warn: ${msg}`),
  error: (_: object, msg: string) => logged.push(`error: ${msg}`),
} as unknown as Log

const thrown: Record<string, () => unknown> = {
  '/admin': () => new HttpError('admin_use_dpop_nonce'),
  '/task': () => new HttpError('not_found', 'task'),
  '/client': () => new HttpError('invalid_client'),
  '/outage': () => new DatabaseUnavailable(),
  '/bug': () => new TypeError('secret internals'),
}

let server: Server
let base: string
beforeAll(async () => {
  const app = new Koa()
  app.use(jsonErrors(log))
  app.use(async (ctx) => {
    // Set before the refusal, as readDpopProof does: it stays on the answer.
    ctx.set('DPoP-Nonce', 'fresh')
    throw thrown[ctx.path]?.()
  })
  server = createServer(app.callback())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

interface Answer {
  status: number | undefined
  /** Every header line, in order, as [lowercased name, value]. */
  lines: Array<[string, string]>
  body: unknown
}

function answer(path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    get(`${base}${path}`, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        const raw = res.rawHeaders
        const lines = raw.flatMap((name, i) => (i % 2 === 0 ? [[name.toLowerCase(), raw[i + 1] as string]] : []))
        resolve({
          status: res.statusCode,
          lines: lines as Array<[string, string]>,
          body: JSON.parse(Buffer.concat(chunks).toString()),
        })
      })
    }).on('error', reject)
  })
}

const header = (a: Answer, name: string) => a.lines.filter(([line]) => line === name).map(([, value]) => value)

describe('jsonErrors', () => {
  it('answers an HttpError from its table, each challenge on its own header line, headers already set kept', async () => {
    logged.length = 0
    const admin = await answer('/admin')
    expect(admin.status).toBe(401)
    expect(admin.body).toEqual({
      error: 'use_dpop_nonce',
      error_description: 'a DPoP proof with the server-provided nonce is required',
    })
    expect(header(admin, 'www-authenticate')).toEqual([
      'Bearer realm="mandate-admin", error="invalid_token"',
      'DPoP realm="mandate-admin", error="use_dpop_nonce", algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"',
    ])
    expect(header(admin, 'cache-control')).toEqual(['no-store'])
    expect(header(admin, 'dpop-nonce')).toEqual(['fresh'])

    const client = await answer('/client')
    expect([client.status, client.body, header(client, 'www-authenticate')]).toEqual([
      401,
      { error: 'invalid_client', error_description: 'client authentication failed' },
      ['Basic realm="mandate"'],
    ])
    const task = await answer('/task')
    expect([task.status, task.body, header(task, 'www-authenticate')]).toEqual([
      404,
      { error: 'not_found', error_description: 'task not found' },
      [],
    ])
    // A refusal is not a server problem: nothing is logged for it.
    expect(logged).toEqual([])
  })

  it('answers an outage as the one 503 and a bug as a bare 500, logging each', async () => {
    logged.length = 0
    const outage = await answer('/outage')
    expect([outage.status, outage.body, header(outage, 'cache-control')]).toEqual([
      503,
      {
        error: 'temporarily_unavailable',
        error_description: 'the authorization server is temporarily unavailable, retry later',
      },
      ['no-store'],
    ])
    const bug = await answer('/bug')
    expect([bug.status, bug.body, header(bug, 'cache-control')]).toEqual([
      500,
      { error: 'server_error', error_description: 'an unexpected error occurred' },
      ['no-store'],
    ])
    expect(logged).toEqual(['warn: database unavailable', 'error: unhandled error'])
  })
})
