import { describe, expect, it } from 'vitest'
import { type AuthorizationCodeFacts, decideAuthorizationCode } from '../../../src/authorization-code/rules.ts'
import { effectivePolicy } from '../../../src/policy/effective.ts'
import { PolicyPathSpec } from '../../../src/policy/schema.ts'

const policy = (spec: unknown, parent?: unknown) =>
  effectivePolicy([
    ...(parent ? [{ path: 'p', version: 1, spec: PolicyPathSpec.parse(parent) }] : []),
    { path: parent ? 'p/q' : 'p', version: 1, spec: PolicyPathSpec.parse(spec) },
  ])
const facts = (over: Partial<AuthorizationCodeFacts> = {}): AuthorizationCodeFacts => ({
  clientScopes: ['a', 'b', 'c'],
  resource: { scopes: ['a', 'b', 'x'], accessTokenLifetime: 300 },
  clientRequiresDpop: false,
  proofPresented: false,
  atTokenEndpoint: false,
  ...over,
})

describe('decideAuthorizationCode', () => {
  it('offers what the client and the resource both have, for the resource lifetime, without a path', () => {
    expect(decideAuthorizationCode(facts())).toEqual({ ok: true, scopes: ['a', 'b'], lifetime: 300 })
  })

  it('narrows scope and lifetime by the bound path, every level intersecting', () => {
    expect(decideAuthorizationCode(facts({ policy: policy({ scopes: ['b', 'x'], tokenLifetime: '1m' }) }))).toEqual({
      ok: true,
      scopes: ['b'],
      lifetime: 60,
    })
    expect(
      decideAuthorizationCode(
        facts({ policy: policy({ scopes: ['a', 'b'] }, { scopes: ['a'], tokenLifetime: '2m' }) }),
      ),
    ).toEqual({ ok: true, scopes: ['a'], lifetime: 120 })
  })

  it('never lengthens the resource lifetime', () => {
    expect(decideAuthorizationCode(facts({ policy: policy({ tokenLifetime: '1h' }) }))).toMatchObject({ lifetime: 300 })
  })

  it('refuses a resource where nothing is left for the client (invalid_target), never an empty grant', () => {
    expect(decideAuthorizationCode(facts({ clientScopes: ['c'] }))).toEqual({ ok: false, error: 'invalid_target' })
    expect(decideAuthorizationCode(facts({ policy: policy({ scopes: ['x'] }) }))).toEqual({
      ok: false,
      error: 'invalid_target',
    })
  })

  it('requires a proof at the token endpoint only, when the path or the client says so (RFC 9449 §5.2)', () => {
    const bound = policy({ requireDpop: true })
    expect(decideAuthorizationCode(facts({ policy: bound }))).toMatchObject({ ok: true })
    expect(decideAuthorizationCode(facts({ policy: bound, atTokenEndpoint: true }))).toEqual({
      ok: false,
      error: 'dpop_required',
    })
    expect(decideAuthorizationCode(facts({ clientRequiresDpop: true, atTokenEndpoint: true }))).toEqual({
      ok: false,
      error: 'dpop_required',
    })
    expect(
      decideAuthorizationCode(facts({ policy: bound, atTokenEndpoint: true, proofPresented: true })),
    ).toMatchObject({ ok: true })
  })
})
