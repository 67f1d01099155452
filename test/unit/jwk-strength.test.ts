import { generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { algorithmsFor, weakKeyProblem } from '../../src/lib/jwk-strength.ts'

const jwkOf = (type: 'rsa' | 'ec' | 'ed25519' | 'ed448' | 'x25519', options: object = {}) =>
  generateKeyPairSync(type as 'rsa', options as { modulusLength: number }).publicKey.export({
    format: 'jwk',
  }) as Record<string, unknown>

describe('weakKeyProblem', () => {
  it.each([
    ['RSA-2048', jwkOf('rsa', { modulusLength: 2048 }), ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']],
    ['P-256', jwkOf('ec', { namedCurve: 'P-256' }), ['ES256']],
    ['P-384', jwkOf('ec', { namedCurve: 'P-384' }), ['ES384']],
    ['P-521', jwkOf('ec', { namedCurve: 'P-521' }), ['ES512']],
    ['Ed25519', jwkOf('ed25519'), ['EdDSA']],
  ])('accepts %s', (_, jwk, algorithms) => {
    expect(weakKeyProblem(jwk)).toBeUndefined()
    expect(algorithmsFor(jwk)).toEqual(algorithms)
  })

  const rsa2048 = jwkOf('rsa', { modulusLength: 2048 })
  it.each([
    ['RSA-1024', jwkOf('rsa', { modulusLength: 1024 }), 'an RSA key must have at least 2048 bits (this one has 1024)'],
    ['RSA with e = 1', { ...rsa2048, e: 'AQ' }, 'an RSA key must have an odd public exponent of at least 3'],
    ['RSA with an even e', { ...rsa2048, e: 'Ag' }, 'an RSA key must have an odd public exponent of at least 3'],
    ['secp256k1', jwkOf('ec', { namedCurve: 'secp256k1' }), 'an EC key must use P-256, P-384 or P-521 (not secp256k1)'],
    [
      'an EC key without a curve',
      { kty: 'EC', x: 'AA', y: 'AA' },
      'an EC key must use P-256, P-384 or P-521 (not undefined)',
    ],
    [
      'a curve named like a prototype member',
      { kty: 'EC', crv: 'toString' },
      'an EC key must use P-256, P-384 or P-521 (not toString)',
    ],
    ['Ed448', jwkOf('ed448'), 'an OKP key must be Ed25519 (not Ed448)'],
    ['X25519 (not a signing key)', jwkOf('x25519'), 'an OKP key must be Ed25519 (not X25519)'],
    ['a P-256 point not on the curve', { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' }, 'not a valid public key'],
    ['an RSA key without a modulus', { kty: 'RSA', e: 'AQAB' }, 'not a valid public key'],
  ])('refuses %s', (_, jwk, problem) => {
    expect(weakKeyProblem(jwk)).toBe(problem)
  })
})
