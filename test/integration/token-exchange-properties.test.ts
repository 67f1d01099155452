// Property (fast-check): along any chain of exchanges, through the real server, every issued token's
// scope is within its parent's and it expires no later than its parent.
import fc from 'fast-check'
import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import { useDatabase } from '../support/database.ts'
import { personToken } from '../support/idp.ts'
import { accessToken, exchange } from '../support/oauth.ts'
import { useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)
const scopes = ['tickets:read', 'tickets:write']

const hop = fc.record({
  client: fc.constantFrom('agent-one', 'sub-agent', 'sub-sub-agent', 'impersonator'),
  scope: fc.option(fc.subarray(scopes, { minLength: 1 }), { nil: undefined }),
  byAudience: fc.boolean(),
})

describe('exchange chains', () => {
  it('never widen scope or lifetime, whatever the hops', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(hop, { minLength: 1, maxLength: 4 }), fc.boolean(), async (hops, foreignRoot) => {
        let parent = foreignRoot
          ? await personToken({ scope: scopes.join(' '), expiresIn: 90 })
          : await accessToken(server.url, 'alice-app', { scope: scopes.join(' ') })
        for (const step of hops) {
          const response = await exchange(server.url, step.client, {
            subject_token: parent,
            ...(step.byAudience ? { audience: 'tickets' } : { resource: 'https://tickets.test/' }),
            ...(step.scope ? { scope: step.scope.join(' ') } : {}),
          })
          const body = (await response.json()) as { access_token?: string; error?: string }
          if (response.status !== 200) {
            expect(['invalid_request', 'invalid_scope']).toContain(body.error)
            return
          }
          const child = decodeJwt(body.access_token as string)
          const before = decodeJwt(parent)
          const parentScope = String(before.scope ?? '').split(' ')
          for (const scope of String(child.scope ?? '')
            .split(' ')
            .filter(Boolean))
            expect(parentScope).toContain(scope)
          expect(child.exp as number).toBeLessThanOrEqual(before.exp as number)
          parent = body.access_token as string
        }
      }),
      { numRuns: 25 },
    )
  })
})
