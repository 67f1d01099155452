import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto'
import { exportJWK, type JWK, SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { DpopProblem, type Nonces, PROOF_WINDOW, verifyDpopProof } from '../../../src/dpop/proof.ts'

const url = 'https://mandate.test/token'
const now = 1_800_000_000
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const publicJwk = (await exportJWK(publicKey)) as JWK
const privateJwk = (await exportJWK(privateKey)) as JWK
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

function proof(options: { header?: Record<string, unknown>; claims?: Record<string, unknown> } = {}) {
  return new SignJWT({ htm: 'POST', htu: url, jti: randomUUID(), iat: now, ...options.claims })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk, ...options.header } as never)
    .sign(privateKey)
}
const nonces: Nonces = { nextChallenge: () => 'next', checkChallenge: (value) => value === 'good' }
const verify = (header: string | string[] | undefined, over: Partial<Parameters<typeof verifyDpopProof>[0]> = {}) =>
  verifyDpopProof({ header, method: 'POST', url, now, ...over })
const problem = async (promise: Promise<unknown>) => {
  try {
    await promise
  } catch (error) {
    if (error instanceof DpopProblem) return error.kind
    throw error
  }
  return 'accepted'
}

describe('verifyDpopProof', () => {
  it('accepts a proof for this request, and names its key', async () => {
    const result = await verify(await proof())
    expect(result).toMatchObject({ iat: now, jkt: expect.any(String) })
  })

  it('ignores the query and fragment of htu (RFC 9449 §4.3)', async () => {
    expect(await problem(verify(await proof({ claims: { htu: `${url}?a=1#f` } })))).toBe('accepted')
  })

  it('has nothing to say without a header', async () => {
    expect(await verify(undefined)).toBeUndefined()
  })

  it('accepts iat within the window either side, and not beyond', async () => {
    expect(await problem(verify(await proof({ claims: { iat: now - PROOF_WINDOW } })))).toBe('accepted')
    expect(await problem(verify(await proof({ claims: { iat: now + PROOF_WINDOW } })))).toBe('accepted')
    expect(await problem(verify(await proof({ claims: { iat: now - PROOF_WINDOW - 1 } })))).toBe('invalid')
    expect(await problem(verify(await proof({ claims: { iat: now + PROOF_WINDOW + 1 } })))).toBe('invalid')
    // With nonces offered, a stale proof is told to use one.
    expect(await problem(verify(await proof({ claims: { iat: now - 999 } }), { nonces }))).toBe('nonce')
  })

  it('takes a valid nonce instead of a fresh iat, and asks for one where required', async () => {
    expect(await problem(verify(await proof({ claims: { iat: 1, nonce: 'good' } }), { nonces }))).toBe('accepted')
    expect(await problem(verify(await proof({ claims: { nonce: 'stale' } }), { nonces }))).toBe('nonce')
    expect(await problem(verify(await proof(), { nonces, requireNonce: true }))).toBe('nonce')
  })

  it('checks ath against the presented access token (RFC 9449 §4.2)', async () => {
    const ath = createHash('sha256').update('the-token').digest('base64url')
    expect(await problem(verify(await proof({ claims: { ath } }), { accessToken: 'the-token' }))).toBe('accepted')
    expect(await problem(verify(await proof({ claims: { ath } }), { accessToken: 'another-token' }))).toBe('invalid')
    expect(await problem(verify(await proof(), { accessToken: 'the-token' }))).toBe('invalid')
  })

  it.each<[string, () => Promise<string | string[]>, Partial<Parameters<typeof verifyDpopProof>[0]>?]>([
    ['another method', () => proof(), { method: 'GET' }],
    ['another URL', () => proof({ claims: { htu: 'https://elsewhere.test/token' } })],
    ['a relative htu', () => proof({ claims: { htu: '/token' } })],
    ['no jti', () => proof({ claims: { jti: undefined } })],
    ['a jti over 256 characters', () => proof({ claims: { jti: 'x'.repeat(257) } })],
    ['a string iat', () => proof({ claims: { iat: String(now) } })],
    ['typ other than dpop+jwt', () => proof({ header: { typ: 'JWT' } })],
    ['a private key in the header', () => proof({ header: { jwk: privateJwk } })],
    [
      'a key that does not verify the signature',
      async () => {
        const other = (await exportJWK(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)) as JWK
        return proof({ header: { jwk: other } })
      },
    ],
    [
      'a point off the curve (WebCrypto refuses the key)',
      async () => {
        const zero = Buffer.alloc(32).toString('base64url')
        return `${b64({ alg: 'ES256', typ: 'dpop+jwt', jwk: { kty: 'EC', crv: 'P-256', x: zero, y: zero } })}.${b64({ htm: 'POST', htu: url, jti: 'j', iat: now })}.${Buffer.alloc(64).toString('base64url')}`
      },
    ],
    [
      'a symmetric key (HS256)',
      async () =>
        `${b64({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: 'c2VjcmV0' } })}.${b64({ htm: 'POST', htu: url, jti: 'j', iat: now })}.AAAA`,
    ],
    [
      'alg none',
      async () =>
        `${b64({ alg: 'none', typ: 'dpop+jwt', jwk: publicJwk })}.${b64({ htm: 'POST', htu: url, jti: 'j', iat: now })}.`,
    ],
    ['two DPoP headers', async () => [await proof(), await proof()]],
    ['two proofs joined in one header', async () => `${await proof()}, ${await proof()}`],
    ['garbage', async () => 'not-a-jwt'],
  ])('refuses %s', async (_, make, over) => {
    expect(await problem(verify(await make(), over))).toBe('invalid')
  })
})
