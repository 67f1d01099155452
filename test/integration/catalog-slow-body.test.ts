// A request is decided on the configuration of when its body arrived, not its headers: a client that
// trickles its body cannot keep a narrowing policy applied (and returned) meanwhile out of force
// (the catalog read begins after boundedBody, src/app.ts).
import { describe, expect, it } from 'vitest'
import { applyPath } from '../support/apply-path.ts'
import { useDatabase } from '../support/database.ts'
import { accessToken, ACCESS_TOKEN, basic, form, secrets, TOKEN_EXCHANGE } from '../support/oauth.ts'
import { useServer } from '../support/server.ts'

const t = useDatabase()
const one = useServer(t)
const tickets = 'https://tickets.test/'

describe('a narrowing change applied while a request body is still arriving', () => {
  it('is in force for the request decided after it returned', async () => {
    const subject = await accessToken(one.url, 'alice-app', { scope: 'tickets:read tickets:write' })
    const body = new TextEncoder().encode(
      form({
        grant_type: TOKEN_EXCHANGE,
        subject_token_type: ACCESS_TOKEN,
        subject_token: subject,
        resource: tickets,
        scope: 'tickets:write',
      }).toString(),
    )
    let push!: (chunk: Uint8Array | null) => void
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        push = (chunk) => (chunk ? controller.enqueue(chunk) : controller.close())
      },
    })
    const answer = fetch(`${one.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': String(body.length),
        authorization: basic('agent-one', secrets['agent-one'] as string),
      },
      body: stream,
      duplex: 'half',
    } as RequestInit)
    push(body.subarray(0, 10))
    await new Promise((resolve) => setTimeout(resolve, 300))
    // The support level stops allowing tickets:write; apply has returned before the body is complete.
    await applyPath(t.db, 'acme/support', '  scopes: [tickets:read, notes:read]\n')
    push(body.subarray(10))
    push(null)
    const response = await answer
    try {
      expect({ status: response.status, body: await response.json() }).toEqual({
        status: 400,
        body: { error: 'invalid_scope', error_description: 'the requested scope is not allowed' },
      })
    } finally {
      await applyPath(t.db, 'acme/support', '  scopes: [tickets:read, tickets:write, notes:read]\n')
    }
  })
})
