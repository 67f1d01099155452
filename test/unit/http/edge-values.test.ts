// The pure parts of the public edge: strict JSON, NUL detection, rate-limit keys and token buckets.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { addressKey } from '../../../src/http/address-key.ts'
import { claimedClientId } from '../../../src/http/claimed-client.ts'
import { hasNul } from '../../../src/http/has-nul.ts'
import { MAX_JSON_DEPTH, parseStrictJson } from '../../../src/http/strict-json.ts'
import { TokenBuckets } from '../../../src/http/token-buckets.ts'

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

describe('parseStrictJson', () => {
  it.each([
    ['{"a":1,"a":2}', 'duplicate_member'],
    ['{"a":1,"\\u0061":2}', 'duplicate_member'],
    ['{"x":{"a":1},"y":[{"a":1,"b":{"a":2,"a":3}}]}', 'duplicate_member'],
    [`${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}`, 'too_deep'],
    [`${'{"a":'.repeat(MAX_JSON_DEPTH + 1)}1${'}'.repeat(MAX_JSON_DEPTH + 1)}`, 'too_deep'],
    ['{"a":', 'syntax'],
    ['{"a', 'syntax'],
    ['{"a":1}x', 'syntax'],
  ])('refuses %s as %s', (text, problem) => {
    expect(parseStrictJson(text)).toEqual({ ok: false, problem })
  })

  it.each([
    ['{"a":"a","b":{"a":"a"},"c":[{"a":1},{"a":2}]}'],
    ['{"a":"{\\"a\\":1,\\"a\\":2}","b":"[[[[[[[[[[[[[[[[[["}'],
    ['{"a\\"":1,"a":2}'],
    [`${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`],
    ['"just a string"'],
  ])('accepts %s as JSON.parse reads it', (text) => {
    expect(parseStrictJson(text)).toEqual({ ok: true, value: JSON.parse(text) })
  })

  it('agrees with JSON.parse on every JSON value without repeated names (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const text = JSON.stringify(value)
        expect(parseStrictJson(text)).toEqual({ ok: true, value: JSON.parse(text) })
      }),
    )
  })
})

describe('hasNul', () => {
  it.each([
    ['a\u0000b', true],
    [['x', ['y', 'z\u0000']], true],
    [{ 'a\u0000': 'b' }, true],
    [{ a: { b: ['\u0000'] } }, true],
    [`${b64({ alg: 'none' })}.${b64({ sub: 'a\u0000b' })}.`, true],
    [`${b64({ alg: 'ES256', kid: '\u0000' })}.${b64({ sub: 'a' })}.sig`, true],
    [`${b64({ alg: 'ES256' })}.${b64({ sub: 'agent-one' })}.sig`, false],
    ['%00', false],
    ['AAAA.AAAA.AAAA', false],
    [`${b64({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.AAAA.AAAA.AAAA.AAAA`, false],
    [`${b64({ alg: 'RSA-OAEP', kid: '\u0000' })}.AAAA.AAAA.AAAA.AAAA`, true],
    [{ a: ['b', 'c'], d: 1, e: null }, false],
    // A header that is not JSON does not hide the claims: they are read, unverified, for lookups.
    [`AAAA.${b64({ sub: 'agent-one\u0000x', iss: 'agent-one\u0000x' })}.AAAA`, true],
    ['a\ud800b', true],
    [{ purpose: '\udc00' }, true],
    [`${b64({ alg: 'ES256' })}.${b64({ iss: 'https://x\ud800' })}.sig`, true],
    ['a pair \ud83d\ude00 is fine', false],
  ])('%j → %s', (value, expected) => {
    expect(hasNul(value)).toBe(expected)
  })
})

describe('claimedClientId', () => {
  const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`
  it.each([
    ['a Basic header', basic('agent%2Done:secret'), {}, 'agent-one'],
    ['a Basic header before client_id', basic('first:x'), { client_id: 'second' }, 'first'],
    ['client_id', undefined, { client_id: 'agent-two' }, 'agent-two'],
    ['an assertion sub', undefined, { client_assertion: `${b64({})}.${b64({ sub: 'jwt-agent' })}.x` }, 'jwt-agent'],
    ['nothing', undefined, {}, undefined],
    ['a malformed header and assertion', 'Basic !!!', { client_assertion: 'x.y.z' }, undefined],
    ['a long id, cut', undefined, { client_id: 'x'.repeat(500) }, 'x'.repeat(200)],
  ])('reads %s', (_, authorization, params, expected) => {
    expect(claimedClientId(authorization, params)).toBe(expected)
  })
})

describe('addressKey', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::7', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
  ])('%s → %s', (address, key) => {
    expect(addressKey(address)).toBe(key)
  })
})

describe('TokenBuckets', () => {
  it('allows capacity at once, then one per refill interval, with the wait until the next', () => {
    const buckets = new TokenBuckets({ capacity: 3, perSecond: 0.5, maxKeys: 10 })
    for (let i = 0; i < 3; i++) {
      expect(buckets.waitSeconds('a', 100)).toBe(0)
      buckets.spend('a', 100)
    }
    expect(buckets.waitSeconds('a', 100)).toBe(2)
    expect(buckets.waitSeconds('a', 101)).toBe(1)
    expect(buckets.waitSeconds('a', 102)).toBe(0)
    expect(buckets.waitSeconds('b', 100)).toBe(0)
  })

  it('never goes below empty, so a burst past the check does not lengthen the wait', () => {
    const buckets = new TokenBuckets({ capacity: 1, perSecond: 1, maxKeys: 10 })
    for (let i = 0; i < 5; i++) buckets.spend('a', 0)
    expect(buckets.waitSeconds('a', 0)).toBe(1)
  })

  it('refills to capacity and no further', () => {
    const buckets = new TokenBuckets({ capacity: 2, perSecond: 1, maxKeys: 10 })
    buckets.spend('a', 0)
    buckets.spend('a', 0)
    buckets.spend('a', 1000)
    buckets.spend('a', 1000)
    expect(buckets.waitSeconds('a', 1000)).toBe(1)
  })

  it('gives a reserved token back, never beyond capacity', () => {
    const buckets = new TokenBuckets({ capacity: 2, perSecond: 0.001, maxKeys: 10 })
    buckets.spend('a', 0)
    buckets.spend('a', 0)
    expect(buckets.waitSeconds('a', 0)).toBeGreaterThan(0)
    buckets.refund('a', 0)
    expect(buckets.waitSeconds('a', 0)).toBe(0)
    buckets.refund('a', 0)
    buckets.refund('a', 0)
    buckets.spend('a', 0)
    buckets.spend('a', 0)
    expect(buckets.waitSeconds('a', 0)).toBeGreaterThan(0)
  })

  it('forgets the least recently spent key beyond maxKeys', () => {
    const buckets = new TokenBuckets({ capacity: 1, perSecond: 0.001, maxKeys: 2 })
    buckets.spend('a', 0)
    buckets.spend('b', 0)
    buckets.spend('a', 1)
    buckets.spend('c', 1)
    expect(buckets.size).toBe(2)
    expect(buckets.waitSeconds('b', 1)).toBe(0)
    expect(buckets.waitSeconds('a', 1)).toBeGreaterThan(0)
    expect(buckets.waitSeconds('c', 1)).toBeGreaterThan(0)
  })
})
