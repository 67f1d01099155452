import { Writable } from 'node:stream'
import { expect, it } from 'vitest'
import { createLog } from '../../src/observability/log.ts'

it('never writes tokens, secrets or Authorization headers', () => {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(chunk.toString())
      done()
    },
  })
  const log = createLog('info', sink)
  log.info(
    {
      req: { headers: { authorization: 'Basic c2VjcmV0', cookie: 'session=1', 'user-agent': 'curl' } },
      params: {
        subject_token: 'eyJ.subject',
        actor_token: 'eyJ.actor',
        client_secret: 's3cret',
        scope: 'tickets:read',
      },
      body: { access_token: 'eyJ.issued', refresh_token: 'r', token: 'eyJ.presented' },
    },
    'request',
  )
  const line = lines.join('')
  for (const secret of ['c2VjcmV0', 'session=1', 'eyJ.subject', 'eyJ.actor', 's3cret', 'eyJ.issued', 'eyJ.presented']) {
    expect(line).not.toContain(secret)
  }
  expect(JSON.parse(line)).toMatchObject({
    req: { headers: { authorization: '[redacted]', 'user-agent': 'curl' } },
    params: { scope: 'tickets:read' },
  })
})
