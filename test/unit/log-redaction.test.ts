import { Writable } from 'node:stream'
import { expect, it } from 'vitest'
import { createLog, redact } from '../../src/observability/log.ts'

function logged(object: object): { line: string; parsed: Record<string, unknown> } {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(chunk.toString())
      done()
    },
  })
  createLog('info', sink).info(object, 'request')
  const line = lines.join('')
  return { line, parsed: JSON.parse(line) }
}

it('never writes tokens, secrets or Authorization headers', () => {
  const { line, parsed } = logged({
    req: { headers: { authorization: 'Basic c2VjcmV0', cookie: 'session=1', 'user-agent': 'curl' } },
    params: {
      subject_token: 'eyJ.subject',
      actor_token: 'eyJ.actor',
      client_secret: 's3cret',
      scope: 'tickets:read',
    },
    body: { access_token: 'eyJ.issued', refresh_token: 'r', token: 'eyJ.presented' },
  })
  for (const secret of ['c2VjcmV0', 'session=1', 'eyJ.subject', 'eyJ.actor', 's3cret', 'eyJ.issued', 'eyJ.presented']) {
    expect(line).not.toContain(secret)
  }
  expect(parsed).toMatchObject({
    req: { headers: { authorization: '[redacted]', 'user-agent': 'curl' } },
    params: { scope: 'tickets:read' },
  })
})

it('redacts top-level keys, header objects and keys at any depth, in arrays too', () => {
  const { line, parsed } = logged({
    token: 'eyJ.top',
    client_secret: 'top-secret',
    authorization: 'Bearer top',
    headers: { authorization: 'Bearer headers', Cookie: 'c=1', accept: 'application/json' },
    a: { b: { token: 'eyJ.deep', c: { d: { e: { clientSecret: 'camel-secret', 'x-api-token': 'dashed' } } } } },
    batch: [{ subject_token: 'eyJ.in-array' }],
    client_id: 'agent-one',
    revoked_tokens: 2,
    token_type: 'Bearer',
  })
  const secrets = [
    'eyJ.top',
    'top-secret',
    'Bearer top',
    'Bearer headers',
    'c=1',
    'eyJ.deep',
    'camel',
    'dashed',
    'in-array',
  ]
  for (const secret of secrets) expect(line).not.toContain(secret)
  expect(parsed).toMatchObject({
    token: '[redacted]',
    client_secret: '[redacted]',
    authorization: '[redacted]',
    headers: { authorization: '[redacted]', Cookie: '[redacted]', accept: 'application/json' },
    a: { b: { token: '[redacted]', c: { d: { e: { clientSecret: '[redacted]', 'x-api-token': '[redacted]' } } } } },
    batch: [{ subject_token: '[redacted]' }],
    client_id: 'agent-one',
    revoked_tokens: 2,
    token_type: 'Bearer',
  })
})

it('copies only what it censors and leaves errors to the error serializer', () => {
  const clean = { a: { b: [1, { c: 'd' }] } }
  expect(redact(clean)).toBe(clean)
  const shared = { keep: 'me' }
  const input = { shared, inner: { password: 'p' } }
  const output = redact(input) as typeof input
  expect(output).toEqual({ shared, inner: { password: '[redacted]' } })
  expect(output.shared).toBe(shared)
  expect(input.inner.password).toBe('p')

  const cyclic: Record<string, unknown> = { name: 'loop' }
  cyclic.self = cyclic
  expect(() => redact(cyclic)).not.toThrow()

  const { parsed } = logged({ err: new TypeError('boom') })
  expect(parsed.err).toMatchObject({ type: 'TypeError', message: 'boom' })
})

it("redacts an error's own properties and class instances' keys", () => {
  const error = Object.assign(new Error('refused'), { token: 'eyJ.in-error', code: 'E_REFUSED' })
  class Request {
    client_secret = 'instance-secret'
    subject_token = 'eyJ.instance'
    client_id = 'agent-one'
  }
  const { line, parsed } = logged({ err: error, request: new Request(), at: new Date(0), privateKey: 'pk' })
  for (const secret of ['eyJ.in-error', 'instance-secret', 'eyJ.instance', '"pk"']) expect(line).not.toContain(secret)
  expect(parsed).toMatchObject({
    err: { message: 'refused', code: 'E_REFUSED', token: '[redacted]' },
    request: { client_secret: '[redacted]', subject_token: '[redacted]', client_id: 'agent-one' },
    at: '1970-01-01T00:00:00.000Z',
    privateKey: '[redacted]',
  })
})

it('redacts errors under any key and passwords in URLs', () => {
  const failure = Object.assign(new Error('nested'), { client_secret: 'nested-secret' })
  const { line, parsed } = logged({
    error: failure,
    ctx: { failures: [Object.assign(new Error('in array'), { token: 'eyJ.nested' })] },
    target: new URL('postgres://user:hunter2@db.internal/mandate'),
  })
  for (const secret of ['nested-secret', 'eyJ.nested', 'hunter2']) expect(line).not.toContain(secret)
  expect(parsed).toMatchObject({
    error: { type: 'Error', message: 'nested', client_secret: '[redacted]' },
    ctx: { failures: [{ message: 'in array', token: '[redacted]' }] },
    target: expect.stringContaining('db.internal/mandate'),
  })
})
