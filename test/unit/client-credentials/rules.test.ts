import { describe, expect, it } from 'vitest'
import { type ClientCredentialsFacts, decideClientCredentials } from '../../../src/client-credentials/rules.ts'
import { effectivePolicy } from '../../../src/policy/effective.ts'
import { PolicyPathSpec } from '../../../src/policy/schema.ts'

const policy = (spec: unknown) => effectivePolicy([{ path: 'p', version: 1, spec: PolicyPathSpec.parse(spec) }])
const facts = (over: Partial<ClientCredentialsFacts> = {}): ClientCredentialsFacts => ({
  requested: [],
  clientScopes: ['a', 'b', 'c'],
  resource: { scopes: ['a', 'b', 'x'], accessTokenLifetime: 300 },
  clientRequiresDpop: false,
  proofPresented: false,
  oneResource: true,
  ...over,
})

describe('decideClientCredentials', () => {
  it('grants by default everything the client, the resource and the path allow (RFC 6749 §3.3)', () => {
    expect(decideClientCredentials(facts())).toEqual({ ok: true, defaultScope: ['a', 'b'], lifetime: 300 })
    expect(decideClientCredentials(facts({ policy: policy({ scopes: ['b'], tokenLifetime: '1m' }) }))).toEqual({
      ok: true,
      defaultScope: ['b'],
      lifetime: 60,
    })
  })

  it('grants a request inside every catalogue as asked, with no default', () => {
    expect(decideClientCredentials(facts({ requested: ['a'] }))).toEqual({ ok: true, lifetime: 300 })
  })

  it.each([
    ['a scope outside the client', facts({ requested: ['x'] }), 'invalid_scope'],
    ['a scope outside the resource', facts({ requested: ['c'] }), 'invalid_scope'],
    ['a scope outside the path', facts({ requested: ['a'], policy: policy({ scopes: ['b'] }) }), 'invalid_scope'],
    ['an empty default', facts({ clientScopes: ['c'] }), 'invalid_scope'],
    ['no proof where the client requires DPoP', facts({ clientRequiresDpop: true }), 'dpop_required'],
    ['no proof where the path requires DPoP', facts({ policy: policy({ requireDpop: true }) }), 'dpop_required'],
  ] as const)('refuses %s', (_, f, error) => {
    expect(decideClientCredentials(f)).toEqual({ ok: false, error })
  })

  it('applies no default to a request naming several resources (they are refused later)', () => {
    expect(decideClientCredentials(facts({ oneResource: false }))).toEqual({ ok: true, lifetime: 300 })
  })
})
