import { createHmac, generateKeyPairSync, type KeyObject, sign } from 'node:crypto'
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { decodeBase64url, parseCompactJws } from '../../../src/keys/compact-jws.ts'
import { type VerifyDeps, verifyAccessToken } from '../../../src/keys/verify-access-token.ts'

const now = 1_700_000_000
const issuer = 'https://as.example'
const ours = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' })

function depsWith(lookups: string[] = []): VerifyDeps {
  return {
    ring: {
      verificationKey: async (kid: string) => {
        lookups.push(kid)
        return kid === 'k1' ? ours.publicKey : undefined
      },
    },
    issuer,
    clock: { now: () => now },
    clockTolerance: 15,
  }
}
const deps = depsWith()

const header = { alg: 'ES256', typ: 'at+jwt', kid: 'k1' }
const claims = {
  iss: issuer,
  jti: 'j1',
  sub: 'alice',
  aud: 'https://api.example',
  client_id: 'agent',
  exp: now + 300,
  iat: now,
  scope: 'read',
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const signature = (input: string, key: KeyObject = ours.privateKey) =>
  sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')
/** Signs two already encoded segments with our key, whatever they hold. */
const signSegments = (encodedHeader: string, encodedPayload: string, key?: KeyObject) =>
  `${encodedHeader}.${encodedPayload}.${signature(`${encodedHeader}.${encodedPayload}`, key)}`
const token = (h: object = header, c: object = claims, key?: KeyObject) => signSegments(b64(h), b64(c), key)
const raw = (bytes: string | Buffer) => Buffer.from(bytes).toString('base64url')
const without = (name: string) => Object.fromEntries(Object.entries(claims).filter(([claim]) => claim !== name))

const valid = token()
const [validHeader, validPayload, validSignature] = valid.split('.') as [string, string, string]
const flipBit = (encoded: string, byte: number) => {
  const bytes = Buffer.from(encoded, 'base64url')
  bytes[byte] = (bytes[byte] as number) ^ 1
  return bytes.toString('base64url')
}

// 64 bytes take 86 base64url characters: the last one carries 2 bits of the signature and 4 unused bits.
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const strayBit = (encoded: string) => encoded.slice(0, -1) + ALPHABET[ALPHABET.indexOf(encoded.at(-1) as string) | 1]

/** The verifier this module replaced (jose jwtVerify with the same options), kept as the reference. */
async function joseReference(input: string, d: VerifyDeps) {
  try {
    const { payload } = await jwtVerify(
      input,
      async (h) => {
        const key = h.kid === undefined ? undefined : await d.ring.verificationKey(h.kid)
        if (!key) throw new joseErrors.JWKSNoMatchingKey()
        return key
      },
      {
        issuer: d.issuer,
        typ: 'at+jwt',
        algorithms: ['ES256'],
        clockTolerance: d.clockTolerance,
        currentDate: new Date(d.clock.now() * 1000),
        requiredClaims: ['jti', 'sub', 'aud', 'client_id', 'exp', 'iat'],
      },
    )
    const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud]
    if (audiences.length === 0 || audiences.some((a) => typeof a !== 'string') || typeof payload.client_id !== 'string')
      return undefined
    return payload
  } catch (error) {
    if (error instanceof joseErrors.JOSEError) return undefined
    throw error
  }
}

const accepted: Array<[string, string]> = [
  ['a valid token', valid],
  ['a token signed by jose', await new SignJWT(claims).setProtectedHeader(header).sign(ours.privateKey)],
  ['typ application/at+jwt', token({ ...header, typ: 'application/at+jwt' })],
  ['typ in upper case', token({ ...header, typ: 'AT+JWT' })],
  ['aud as an array', token(header, { ...claims, aud: ['https://a.example', 'https://b.example'] })],
  ['exp within the clock tolerance', token(header, { ...claims, exp: now - 14 })],
  ['nbf within the clock tolerance', token(header, { ...claims, nbf: now + 15 })],
  ['iat in the future (RFC 9068 sets no rule on it)', token(header, { ...claims, iat: now + 3600 })],
  ['an unknown header parameter', token({ ...header, x5t: 'abc' })],
  [
    'an escaped unpaired surrogate inside a claim (valid JSON)',
    signSegments(
      validHeader,
      raw(
        '{"iss":"https://as.example","jti":"j1","sub":"\\ud800","aud":"a","client_id":"c","exp":1700000300,"iat":1700000000}',
      ),
    ),
  ],
]

const refused: Array<[string, string]> = [
  // Shape
  ['an empty string', ''],
  ['two segments', `${validHeader}.${validPayload}`],
  ['four segments', `${valid}.${validSignature}`],
  ['five segments (a JWE shape)', `${validHeader}.a.b.c.d`],
  ['an empty signature', `${validHeader}.${validPayload}.`],
  // base64url
  ['a header with a character outside base64url', `*${valid.slice(1)}`],
  [
    'a payload in base64 (+ and /)',
    `${validHeader}.${validPayload.replaceAll('-', '+').replaceAll('_', '/')}x.${validSignature}`,
  ],
  ['a header of length 1 mod 4', `${validHeader}A.${validPayload}.${validSignature}`],
  ['an unpaired surrogate in the token string', `${validHeader}.${validPayload}\ud800.${validSignature}`],
  ['an unpaired surrogate in the header segment', `\udc00${valid}`],
  ['non-ASCII in the payload segment', `${validHeader}.${validPayload}é.${validSignature}`],
  // JSON
  ['a header that is not JSON', signSegments(raw('{"alg":"ES256",'), validPayload)],
  ['a header that is a JSON array', signSegments(raw('["ES256"]'), validPayload)],
  ['a header that is JSON null', signSegments(raw('null'), validPayload)],
  ['a header in invalid UTF-8', signSegments(raw(Buffer.from([0x7b, 0xff, 0x7d])), validPayload)],
  ['a payload that is not JSON', signSegments(validHeader, raw('not json'))],
  ['a payload that is a JSON array', signSegments(validHeader, raw('[1]'))],
  ['a payload that is a JSON string', signSegments(validHeader, raw('"claims"'))],
  ['a payload in invalid UTF-8', signSegments(validHeader, raw(Buffer.from([0x7b, 0xc3, 0x28, 0x7d])))],
  [
    'a payload with an unpaired surrogate encoded as bytes (WTF-8)',
    signSegments(
      validHeader,
      raw(Buffer.concat([Buffer.from('{"sub":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')])),
    ),
  ],
  // Signature
  ['a flipped signature bit', `${validHeader}.${validPayload}.${flipBit(validSignature, 5)}`],
  ['a flipped payload bit', `${validHeader}.${flipBit(validPayload, 3)}.${validSignature}`],
  [
    'a signature one byte short',
    `${validHeader}.${validPayload}.${raw(Buffer.from(validSignature, 'base64url').subarray(0, 63))}`,
  ],
  [
    'a signature one byte long',
    `${validHeader}.${validPayload}.${raw(Buffer.concat([Buffer.from(validSignature, 'base64url'), Buffer.from([0])]))}`,
  ],
  [
    'a DER-encoded signature',
    `${validHeader}.${validPayload}.${sign('sha256', Buffer.from(`${validHeader}.${validPayload}`), ours.privateKey).toString('base64url')}`,
  ],
  ['a signature of zeros', `${validHeader}.${validPayload}.${raw(Buffer.alloc(64))}`],
  ['a signature by another key under our kid', token(header, claims, stranger.privateKey)],
  // Header rules
  ['alg none', `${b64({ ...header, alg: 'none' })}.${validPayload}.`],
  ['alg none with a signature', `${b64({ ...header, alg: 'none' })}.${validPayload}.${validSignature}`],
  [
    'alg HS256 keyed with our public key',
    (() => {
      const input = `${b64({ ...header, alg: 'HS256' })}.${validPayload}`
      const secret = JSON.stringify(ours.publicKey.export({ format: 'jwk' }))
      return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`
    })(),
  ],
  ['alg ES384', token({ ...header, alg: 'ES384' })],
  ['alg es256 (case matters)', token({ ...header, alg: 'es256' })],
  ['no alg', token({ typ: 'at+jwt', kid: 'k1' })],
  ['no kid', token({ alg: 'ES256', typ: 'at+jwt' })],
  ['an unknown kid', token({ ...header, kid: 'k2' })],
  ['a kid that is not a string', token({ ...header, kid: 1 })],
  ['an unknown crit extension', token({ ...header, crit: ['exp'], exp: 1 })],
  ['an empty crit', token({ ...header, crit: [] })],
  ['b64 false (unencoded payload)', token({ ...header, crit: ['b64'], b64: false })],
  ['no typ', token({ alg: 'ES256', kid: 'k1' })],
  ['typ JWT', token({ ...header, typ: 'JWT' })],
  ['typ application/jwt', token({ ...header, typ: 'application/jwt' })],
  ['typ at+jwt with a parameter', token({ ...header, typ: 'application/at+jwt; x=1' })],
  ['typ that is not a string', token({ ...header, typ: ['at+jwt'] })],
  // Claims
  ['another issuer', token(header, { ...claims, iss: 'https://evil.example' })],
  ['the issuer with a trailing slash', token(header, { ...claims, iss: `${issuer}/` })],
  ['an issuer in an array', token(header, { ...claims, iss: [issuer] })],
  ...(['iss', 'jti', 'sub', 'aud', 'client_id', 'exp', 'iat'] as const).map((name): [string, string] => [
    `no ${name}`,
    token(header, without(name)),
  ]),
  ['an expired token (exp at the tolerance)', token(header, { ...claims, exp: now - 15 })],
  ['a long expired token', token(header, { ...claims, exp: now - 86_400 })],
  ['exp as a string', token(header, { ...claims, exp: String(now + 300) })],
  ['exp null', token(header, { ...claims, exp: null })],
  ['nbf in the future beyond the tolerance', token(header, { ...claims, nbf: now + 16 })],
  ['nbf as a string', token(header, { ...claims, nbf: String(now) })],
  ['nbf null', token(header, { ...claims, nbf: null })],
  ['iat as a string', token(header, { ...claims, iat: String(now) })],
  ['aud empty', token(header, { ...claims, aud: [] })],
  ['aud with a number', token(header, { ...claims, aud: ['https://a.example', 1] })],
  ['aud a number', token(header, { ...claims, aud: 1 })],
  ['aud null', token(header, { ...claims, aud: null })],
  ['client_id a number', token(header, { ...claims, client_id: 1 })],
]

describe('verifyAccessToken', () => {
  it('returns the claims of a valid token', async () => {
    expect(await verifyAccessToken(valid, deps)).toEqual(claims)
  })

  it.each(accepted)('accepts %s', async (_, input) => {
    expect(await verifyAccessToken(input, deps)).toBeDefined()
  })

  it.each(refused)('refuses %s with undefined', async (_, input) => {
    expect(await verifyAccessToken(input, deps)).toBeUndefined()
  })

  it('throws when the key ring cannot be read: an outage is not an invalid token', async () => {
    const outage = new Error('database unavailable')
    const failing = { ...deps, ring: { verificationKey: () => Promise.reject(outage) } }
    await expect(verifyAccessToken(valid, failing)).rejects.toBe(outage)
  })

  it('reads no key for a token malformed before its signature is checked', async () => {
    const lookups: string[] = []
    const malformed = [
      `${validHeader}.${validPayload}.${validSignature.slice(1)}`,
      `${validHeader}.${validPayload}.${raw(Buffer.alloc(63))}`,
      `${validHeader}.${validPayload}`,
      token({ ...header, alg: 'HS256' }),
    ]
    for (const input of malformed) expect(await verifyAccessToken(input, depsWith(lookups))).toBeUndefined()
    expect(lookups).toEqual([])
  })
})

describe('verifyAccessToken agrees with the jose verifier it replaced', () => {
  it.each([...accepted, ...refused])('%s', async (_, input) => {
    expect(await verifyAccessToken(input, deps)).toEqual(await joseReference(input, deps))
  })

  // Deliberately stricter than jose, which decodes base64url forgivingly (atob: whitespace, padding,
  // stray bits) and strips a UTF-8 BOM: a signature has one encoding, and our own headers carry no BOM
  // and no crit, so none of these can be a token we issued unaltered.
  const stricter: Array<[string, string]> = [
    ['a padded signature segment', `${valid}==`],
    [
      'a signature with a space',
      `${validHeader}.${validPayload}.${validSignature.slice(0, 10)} ${validSignature.slice(10)}`,
    ],
    [
      'a signature with a line break',
      `${validHeader}.${validPayload}.${validSignature.slice(0, 43)}\n${validSignature.slice(43)}`,
    ],
    ['a signature with non-zero trailing bits', `${validHeader}.${validPayload}.${strayBit(validSignature)}`],
    [
      'a header with a byte order mark',
      signSegments(
        raw(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(header))])),
        validPayload,
      ),
    ],
    ['crit b64 true', token({ ...header, crit: ['b64'], b64: true })],
  ]
  it.each(stricter)('refuses %s, which jose accepts', async (_, input) => {
    expect(await joseReference(input, deps)).toBeDefined()
    expect(await verifyAccessToken(input, deps)).toBeUndefined()
  })
})

describe('decodeBase64url', () => {
  it.each([
    ['', ''],
    ['AA', '00'],
    ['AAE', '0001'],
    ['-_8', 'fbff'],
  ])('decodes %j', (input, hex) => {
    expect(decodeBase64url(input)?.toString('hex')).toBe(hex)
  })

  it.each(['A', 'AA==', 'AB', 'A+', 'A/', 'A A', ' AA', 'AA\n', '\ud800', 'AÀ'])('refuses %j', (input) => {
    expect(decodeBase64url(input)).toBeUndefined()
  })
})

describe('parseCompactJws', () => {
  it('keeps the signing input as the exact ASCII of header.payload', () => {
    expect(parseCompactJws(valid)?.signingInput.toString('latin1')).toBe(`${validHeader}.${validPayload}`)
  })
})
