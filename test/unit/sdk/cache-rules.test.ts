import { describe, expect, it } from 'vitest'
import { allowKey, cacheUntil, canonicalJson, inactiveKey } from '../../../sdk/resource-server/cache-rules.ts'
import { ExpiringLru } from '../../../sdk/resource-server/lru.ts'

const now = 1_000_000
const token = { exp: now + 120 }

describe('cacheUntil', () => {
  it.each([
    ['an allow with cache_max_age', { decision: true, cacheMaxAge: 30 }, now + 30],
    ['an allow whose cache_max_age outlives the token: until exp', { decision: true, cacheMaxAge: 3600 }, now + 120],
    ['an allow with a fractional cache_max_age: whole seconds down', { decision: true, cacheMaxAge: 9.9 }, now + 9],
    ['token_inactive: until the token would have expired', { decision: false, reason: 'token_inactive' }, now + 120],
    [
      'token_inactive even with a cache_max_age of 0',
      { decision: false, reason: 'token_inactive', cacheMaxAge: 0 },
      now + 120,
    ],
  ])('caches %s', (_, answer, until) => {
    expect(cacheUntil(answer, token, now)).toBe(until)
  })

  it.each([
    ['an allow without cache_max_age', { decision: true }],
    ['an allow with cache_max_age 0', { decision: true, cacheMaxAge: 0 }],
    ['an allow with a negative cache_max_age', { decision: true, cacheMaxAge: -5 }],
    ['an allow with a cache_max_age below one second', { decision: true, cacheMaxAge: 0.5 }],
    ['an allow with a string cache_max_age', { decision: true, cacheMaxAge: '60' }],
    ['an allow with an infinite cache_max_age', { decision: true, cacheMaxAge: Number.POSITIVE_INFINITY }],
    ...[
      'insufficient_scope',
      'action_not_allowed',
      'task_required',
      'outside_task_intent',
      'chain_too_deep',
      'actor_not_allowed',
      'approval_required',
      'approval_denied',
      'rate_exceeded',
      'a_reason_from_a_newer_mandate',
    ].map((reason) => [`a ${reason} deny, even with cache_max_age`, { decision: false, reason, cacheMaxAge: 60 }]),
  ] as Array<[string, Parameters<typeof cacheUntil>[0]]>)('never caches %s', (_, answer) => {
    expect(cacheUntil(answer, token, now)).toBeUndefined()
  })

  it('never caches anything for a token at or past its exp', () => {
    expect(cacheUntil({ decision: true, cacheMaxAge: 60 }, { exp: now }, now)).toBeUndefined()
    expect(cacheUntil({ decision: false, reason: 'token_inactive' }, { exp: now - 1 }, now)).toBeUndefined()
  })
})

describe('cache keys', () => {
  const request = { action: 'tickets.delete', object: 'ticket-42', properties: { a: 1, b: { c: [1, 2] } } }

  it('are equal for equal properties in any key order', () => {
    expect(allowKey('t', request)).toBe(allowKey('t', { ...request, properties: { b: { c: [1, 2] }, a: 1 } }))
    expect(canonicalJson({ b: 1, a: { d: 2, c: undefined } })).toBe('{"a":{"d":2},"b":1}')
  })

  it.each([
    ['another token', allowKey('u', request)],
    ['another action', allowKey('t', { ...request, action: 'tickets.read' })],
    ['another object', allowKey('t', { ...request, object: 'ticket-43' })],
    ['other resource properties', allowKey('t', { ...request, properties: { a: 2, b: { c: [1, 2] } } })],
    ['no properties', allowKey('t', { action: request.action, object: request.object })],
    ['action properties', allowKey('t', { ...request, actionProperties: { a: 1 } })],
    ['the token-wide inactive key', inactiveKey('t')],
  ])('differ for %s', (_, other) => {
    expect(other).not.toBe(allowKey('t', request))
  })

  it('cannot be forged by ids that contain separators', () => {
    expect(allowKey('t', { action: 'a","b', object: 'c' })).not.toBe(allowKey('t', { action: 'a', object: 'b","c' }))
  })
})

describe('ExpiringLru', () => {
  it('forgets an entry at its end time', () => {
    const lru = new ExpiringLru<string>(10)
    lru.set('k', 'v', now + 5)
    expect(lru.get('k', now + 4)).toBe('v')
    expect(lru.get('k', now + 5)).toBeUndefined()
    expect(lru.size).toBe(0)
  })

  it('drops the least recently used entry when full', () => {
    const lru = new ExpiringLru<number>(2)
    lru.set('a', 1, now + 60)
    lru.set('b', 2, now + 60)
    expect(lru.get('a', now)).toBe(1) // a is now the most recent
    lru.set('c', 3, now + 60)
    expect([lru.get('a', now), lru.get('b', now), lru.get('c', now)]).toEqual([1, undefined, 3])
    expect(lru.size).toBe(2)
  })

  it('holds nothing with size 0, and refuses a size that is not a count', () => {
    const lru = new ExpiringLru<number>(0)
    lru.set('a', 1, now + 60)
    expect(lru.get('a', now)).toBeUndefined()
    expect(() => new ExpiringLru(-1)).toThrow(TypeError)
    expect(() => new ExpiringLru(1.5)).toThrow(TypeError)
  })
})
