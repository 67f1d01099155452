// Property (fast-check): along any chain of exchanges, through the real server, every issued token's
// scope is within its parent's, it expires no later than its parent, and its `act` is the parent's
// chain with exactly one actor added (none for impersonation, or when the chain's current actor
// exchanges its own token again); no chain ever names a party twice. Most hops follow the chain the
// fixture paths allow (agent-one → sub-agent → sub-sub-agent, maxDepth 3 under `acme`), so chains
// really reach depth 2 and 3; a counter makes sure they did, so the property cannot hold vacuously.
import fc from 'fast-check'
import { decodeJwt, type JWTPayload } from 'jose'
import { describe, expect, it } from 'vitest'
import { useDatabase } from '../support/database.ts'
import { personToken } from '../support/idp.ts'
import { accessToken, exchange } from '../support/oauth.ts'
import { useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)
const scopes = ['tickets:read', 'tickets:write']
/** The multi-hop chain of test/support/fixtures/policy-paths.yaml; a 4th hop is over maxDepth. */
const spine = ['agent-one', 'sub-agent', 'sub-sub-agent', 'agent-one']

const hop = fc.record({
  // Mostly the next actor along the spine; sometimes anyone (including the impersonator).
  client: fc.oneof(
    { weight: 4, arbitrary: fc.constant('next') },
    { weight: 1, arbitrary: fc.constantFrom('agent-one', 'sub-agent', 'sub-sub-agent', 'impersonator') },
  ),
  // inherit: no scope parameter; narrow: a part of the parent's scope; any: possibly an escalation.
  scope: fc.constantFrom('inherit', 'inherit', 'narrow', 'narrow', 'any'),
  pick: fc.subarray(scopes, { minLength: 1 }),
  byAudience: fc.boolean(),
})
const chain = fc.record({
  foreignRoot: fc.boolean(),
  // Mostly both scopes (a root without tickets:read stops at sub-agent, whose path allows only read).
  rootScope: fc.constantFrom(scopes, scopes, ['tickets:read'], ['tickets:write']),
  hops: fc.array(hop, { minLength: 2, maxLength: 4, size: 'max' }),
})
type Chain = typeof chain extends fc.Arbitrary<infer T> ? T : never

type Act = { sub: string; act?: Act }
const depthOf = (act: Act | undefined): number => (act ? 1 + depthOf(act.act) : 0)
const actorsOf = (act: Act | undefined): string[] => (act ? [act.sub, ...actorsOf(act.act)] : [])
const scopeOf = (claims: JWTPayload) => String(claims.scope ?? '').split(' ')

/** A chain that follows the spine to depth 3, then tries a 4th hop: always among the runs. */
const deepest: Chain = {
  foreignRoot: false,
  rootScope: scopes,
  hops: [0, 1, 2, 3].map(() => ({ client: 'next', scope: 'inherit', pick: scopes, byAudience: false })),
}

describe('exchange chains', () => {
  it('never widen scope or lifetime and add one actor per hop, at depth 1, 2 and 3', async () => {
    const reached = [0, 0, 0, 0]
    let runs = 0
    await fc.assert(
      fc.asyncProperty(chain, async ({ foreignRoot, rootScope, hops }) => {
        runs += 1
        let parent = foreignRoot
          ? await personToken({ scope: rootScope.join(' '), expiresIn: 90 })
          : await accessToken(server.url, 'alice-app', { scope: rootScope.join(' ') })
        let depth = 0
        try {
          for (const [index, step] of hops.entries()) {
            const before = decodeJwt(parent)
            const client = step.client === 'next' ? (spine[index] as string) : step.client
            const narrowed = step.pick.filter((scope) => scopeOf(before).includes(scope))
            const requested =
              step.scope === 'any' ? step.pick : step.scope === 'narrow' && narrowed.length > 0 ? narrowed : undefined
            const response = await exchange(server.url, client, {
              subject_token: parent,
              ...(step.byAudience ? { audience: 'tickets' } : { resource: 'https://tickets.test/' }),
              ...(requested ? { scope: requested.join(' ') } : {}),
            })
            const body = (await response.json()) as { access_token?: string; error?: string }
            if (response.status !== 200) {
              expect(['invalid_request', 'invalid_scope']).toContain(body.error)
              return
            }
            const child = decodeJwt(body.access_token as string)
            const childScope = scopeOf(child).filter(Boolean)
            expect(childScope.length).toBeGreaterThan(0)
            for (const scope of childScope) expect(scopeOf(before)).toContain(scope)
            expect(child.exp as number).toBeLessThanOrEqual(before.exp as number)
            if (child.act === undefined) {
              // Impersonation: only of a token that carries no chain.
              expect(before.act).toBeUndefined()
            } else if ((before.act as Act | undefined)?.sub === client) {
              // The chain's current actor narrowing its own token again: not another hop.
              expect(child.act).toEqual(before.act)
            } else {
              const act = child.act as Act
              expect(act.sub).toBe(client)
              expect(act.act).toEqual(before.act)
              expect(depthOf(act)).toBe(depthOf(before.act as Act | undefined) + 1)
              expect(depthOf(act)).toBeLessThanOrEqual(3)
            }
            const parties = [child.sub as string, ...actorsOf(child.act as Act | undefined)]
            expect(new Set(parties).size).toBe(parties.length)
            depth = depthOf(child.act as Act | undefined)
            parent = body.access_token as string
          }
        } finally {
          reached[depth] = (reached[depth] ?? 0) + 1
        }
      }),
      { numRuns: 30, examples: [[deepest]] },
    )
    // Not vacuous: a good share of chains went past the first hop, and some reached the limit.
    const deep = (reached[2] ?? 0) + (reached[3] ?? 0)
    expect(deep, `depths reached: ${reached}`).toBeGreaterThanOrEqual(Math.ceil(runs / 8))
    expect(reached[3], `depths reached: ${reached}`).toBeGreaterThanOrEqual(1)
  })
})
