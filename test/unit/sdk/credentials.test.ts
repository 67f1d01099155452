import { describe, expect, it } from 'vitest'
import { header, publicUrl, readCredentials } from '../../../sdk/resource-server/request.ts'

describe('readCredentials (RFC 6750 §2.1, RFC 9449 §7.1)', () => {
  it.each([
    ['Bearer abc.def-ghi_~+/==', { kind: 'token', scheme: 'Bearer', token: 'abc.def-ghi_~+/==' }],
    ['bearer abc', { kind: 'token', scheme: 'Bearer', token: 'abc' }],
    ['DPoP abc', { kind: 'token', scheme: 'DPoP', token: 'abc' }],
    ['dpop  abc', { kind: 'token', scheme: 'DPoP', token: 'abc' }],
    [undefined, { kind: 'none' }],
    ['', { kind: 'none' }],
    ['Basic dXNlcjpwYXNz', { kind: 'none' }],
    ['Bearerabc', { kind: 'none' }],
    ['Bearer', { kind: 'malformed' }],
    ['Bearer ', { kind: 'malformed' }],
    ['Bearer a b', { kind: 'malformed' }],
    ['Bearer a=b', { kind: 'malformed' }],
    ['DPoP "abc"', { kind: 'malformed' }],
    [['Bearer a', 'Bearer b'], { kind: 'malformed' }],
  ])('reads %j', (value, expected) => {
    expect(readCredentials(value)).toEqual(expected)
  })
})

describe('header', () => {
  it('reads fetch Headers and node header records alike', () => {
    expect(header(new Headers({ DPoP: 'x' }), 'dpop')).toBe('x')
    expect(header(new Headers(), 'dpop')).toBeUndefined()
    expect(header({ dpop: 'x', get: 'not a function' }, 'DPoP')).toBe('x')
  })
})

describe('publicUrl', () => {
  it.each([
    ['http://127.0.0.1:3000/tickets/42?x=1', 'https://tickets.test/tickets/42?x=1'],
    ['http://evil.test/tickets', 'https://tickets.test/tickets'],
    ['/tickets#frag', 'https://tickets.test/tickets'],
    ['//evil.test/path', 'https://tickets.test/path'],
  ])('puts %s on our own origin: %s', (url, expected) => {
    expect(publicUrl(url, 'https://tickets.test')).toBe(expected)
  })
})
