import { describe, expect, it } from 'vitest'
import { actorsOf, depthOf, identityOnly, inNamespace, nestAct, ourActorsOf } from '../../../src/policy/act-claim.ts'
import { narrowScope, narrowScopeBy } from '../../../src/policy/narrow-scope.ts'
import { ancestorsOf } from '../../../src/policy/schema.ts'
import { parseParams } from '../../../src/token-exchange/params.ts'

const AT = 'urn:ietf:params:oauth:token-type:access_token'

describe('narrowScope', () => {
  it.each([
    ['no request: everything every bound allows', undefined, [['a', 'b'], undefined, ['b', 'c', 'a']], ['a', 'b']],
    ['a request inside the bounds', ['b'], [['a', 'b'], ['b']], ['b']],
    ['a request outside a bound', ['a', 'c'], [['a', 'b']], undefined],
    ['no bounds at all', ['x'], [undefined], ['x']],
    ['duplicates collapse', ['a', 'a'], [['a']], ['a']],
  ] as const)('%s', (_, requested, bounds, expected) => {
    expect(narrowScope(requested, bounds)).toEqual(expected)
  })
})

describe('narrowScopeBy', () => {
  const bounds = [
    { by: 'subject_token', scopes: ['a', 'b', 'c'] },
    { by: 'policy:acme', scopes: undefined },
    { by: 'policy:acme/p', scopes: ['a', 'b'] },
    { by: 'resource', scopes: ['a', 'x'] },
  ]
  it('names what each bound removed when nothing is requested', () => {
    expect(narrowScopeBy(undefined, bounds)).toEqual({
      scope: ['a'],
      removed: [
        { by: 'policy:acme/p', scopes: ['c'] },
        { by: 'resource', scopes: ['b'] },
      ],
    })
  })
  it('names the bounds that refuse a request, each with the scopes it does not allow', () => {
    expect(narrowScopeBy(['a', 'b', 'z'], bounds)).toEqual({
      scope: undefined,
      removed: [
        { by: 'subject_token', scopes: ['z'] },
        { by: 'resource', scopes: ['b'] },
      ],
    })
  })
  it('grants a request inside every bound whole, with nothing removed', () => {
    expect(narrowScopeBy(['a'], bounds)).toEqual({ scope: ['a'], removed: [] })
  })
})

describe('act claims (RFC 8693 §4.1)', () => {
  it('nests the current actor outermost and measures depth', () => {
    const chain = nestAct({ sub: 'c' }, nestAct({ sub: 'b' }, nestAct({ sub: 'a' })))
    expect(chain).toEqual({ sub: 'c', act: { sub: 'b', act: { sub: 'a' } } })
    expect(depthOf(chain)).toBe(3)
    expect(actorsOf(chain)).toEqual(['c', 'b', 'a'])
  })
  it('keeps identity members only and rejects malformed chains', () => {
    expect(identityOnly({ sub: 'a', exp: 1, act: { sub: 'b', scope: 'x' } })).toEqual({ sub: 'a', act: { sub: 'b' } })
    expect(identityOnly({ sub: 'a', act: { nope: 1 } })).toBeUndefined()
    expect(identityOnly('a')).toBeUndefined()
  })
})

describe('ancestorsOf', () => {
  it('lists the path from the root', () => {
    expect(ancestorsOf('acme/support/tickets-write')).toEqual(['acme', 'acme/support', 'acme/support/tickets-write'])
  })
})

describe('parseParams', () => {
  const base = { subject_token: 's', subject_token_type: AT }
  it.each([
    ['no subject_token', { subject_token_type: AT }, 'subject_token.missing'],
    ['an unsupported subject_token_type', { ...base, subject_token_type: 'urn:x' }, 'request.unsupported_token_type'],
    ['actor_token alone', { ...base, actor_token: 'a' }, 'request.malformed'],
    ['actor_token_type alone', { ...base, actor_token_type: AT }, 'request.malformed'],
    [
      'an unsupported requested_token_type',
      { ...base, requested_token_type: 'urn:x' },
      'request.unsupported_requested_type',
    ],
  ])('refuses %s', (_, raw, reason) => {
    expect(() => parseParams(raw)).toThrow(expect.objectContaining({ reason }))
  })
  it('collects repeated resources and audiences and splits scope', () => {
    expect(parseParams({ ...base, resource: ['r1', 'r2'], audience: 'a1', scope: 'x  y' })).toEqual({
      ...base,
      resources: ['r1', 'r2'],
      audiences: ['a1'],
      scope: ['x', 'y'],
    })
  })
})

describe('act chains across issuers', () => {
  const ours = 'https://mandate.test'
  it("tags a foreign token's chain with its issuer, and keeps our own actors untagged", () => {
    const chain = { sub: 'b', act: { sub: 'a', iss: ours, act: { sub: 'x', iss: 'https://other.test' } } }
    expect(inNamespace(chain, 'https://idp.test', ours)).toEqual({
      sub: 'b',
      iss: 'https://idp.test',
      act: { sub: 'a', act: { sub: 'x', iss: 'https://other.test' } },
    })
    expect(inNamespace({ sub: 'a', iss: ours }, undefined, ours)).toEqual({ sub: 'a' })
    expect(inNamespace(undefined, 'https://idp.test', ours)).toBeUndefined()
  })

  it('lists only our clients as our actors', () => {
    expect(ourActorsOf({ sub: 'a', act: { sub: 'b', iss: 'https://idp.test', act: { sub: 'c' } } })).toEqual(['a', 'c'])
  })
})
