import { randomBytes, scryptSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  dummyHash,
  hashPassword,
  parsePasswordHash,
  passwordProblem,
  verifyPassword,
} from '../../../src/users/password.ts'

const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '')
const salt16 = b64(randomBytes(16))
const tag32 = b64(randomBytes(32))
const argon2id = (params: string, salt = salt16, tag = tag32) => `$argon2id$v=19$${params}$${salt}$${tag}`
const scrypt = (params: string, salt = salt16, tag = tag32) => `$scrypt$${params}$${salt}$${tag}`
const PASSWORD = 'correct horse battery staple'

// Made by encoders other than ours: phc-winner-argon2's test vector (src/test.c, "password"/"somesalt") and the
// scrypt example of passlib's documentation. Both are below our floor (8-byte salt; ln=16 with p=1), so they
// show that verification reads the string's own parameters.
const REFERENCE_ARGON2ID = '$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc'
const REFERENCE_SCRYPT = '$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E'

describe('hashPassword and verifyPassword', () => {
  it('hashes with argon2id at OWASP parameters, a 16-byte salt and a 32-byte tag, and verifies', async () => {
    const hash = await hashPassword(PASSWORD)
    const [, algorithm, version, params, salt, tag] = hash.split('$')
    expect([algorithm, version, params]).toEqual(['argon2id', 'v=19', 'm=19456,t=2,p=1'])
    expect(Buffer.from(salt as string, 'base64')).toHaveLength(16)
    expect(Buffer.from(tag as string, 'base64')).toHaveLength(32)
    expect(`${salt}${tag}`).not.toContain('=') // PHC: base64 without padding
    expect(parsePasswordHash(hash)).toBeUndefined()
    expect(await verifyPassword(PASSWORD, hash)).toBe(true)
    expect(await verifyPassword('correct horse battery stapler', hash)).toBe(false)
    expect(await verifyPassword('', hash)).toBe(false)
    expect(await hashPassword(PASSWORD)).not.toBe(hash) // salted
  })

  it('verifies an scrypt hash made by node:crypto directly (OWASP N=2^17, r=8, p=1)', async () => {
    const salt = randomBytes(16)
    const key = scryptSync(PASSWORD, salt, 32, { N: 2 ** 17, r: 8, p: 1, maxmem: 256 * 1024 * 1024 })
    const hash = scrypt('ln=17,r=8,p=1', b64(salt), b64(key))
    expect(parsePasswordHash(hash)).toBeUndefined()
    expect(await verifyPassword(PASSWORD, hash)).toBe(true)
    expect(await verifyPassword('Correct horse battery staple', hash)).toBe(false)
  })

  it('verifies hashes made by other encoders', async () => {
    expect(await verifyPassword('password', REFERENCE_ARGON2ID)).toBe(true)
    expect(await verifyPassword('passwore', REFERENCE_ARGON2ID)).toBe(false)
    expect(await verifyPassword('password', REFERENCE_SCRYPT)).toBe(true)
    expect(await verifyPassword('passwore', REFERENCE_SCRYPT)).toBe(false)
  })

  it('refuses a tampered hash: another tag, other parameters, another salt, a cut string', async () => {
    const hash = await hashPassword(PASSWORD)
    const parts = hash.split('$')
    const tag = parts[5] as string
    const flipped = `${tag.slice(0, 10)}${tag[10] === 'A' ? 'B' : 'A'}${tag.slice(11)}`
    const tampered = [
      [...parts.slice(0, 5), flipped].join('$'),
      hash.replace('t=2', 't=3'),
      hash.replace('m=19456', 'm=19457'),
      [...parts.slice(0, 4), salt16, tag].join('$'),
      hash.slice(0, -4),
      hash.replace('$argon2id$', '$argon2i$'),
      hash.replace('v=19', 'v=16'),
    ]
    for (const phc of tampered) expect(await verifyPassword(PASSWORD, phc)).toBe(false)
  })

  it('treats the same password in another Unicode form as the same (NFKC)', async () => {
    const hash = await hashPassword('caf\u00e9 \ufb01ve-and-more')
    expect(await verifyPassword('cafe\u0301 five-and-more', hash)).toBe(true)
  })
})

describe('parsePasswordHash', () => {
  it.each([
    ['argon2id m=19456,t=2,p=1', argon2id('m=19456,t=2,p=1')],
    ['argon2id m=47104,t=1', argon2id('m=47104,t=1,p=1')],
    ['argon2id m=12288,t=3', argon2id('m=12288,t=3,p=1')],
    ['argon2id m=9216,t=4', argon2id('m=9216,t=4,p=1')],
    ['argon2id m=7168,t=5,p=2', argon2id('m=7168,t=5,p=2')],
    ['argon2id m=65536,t=3,p=4', argon2id('m=65536,t=3,p=4')],
    ['scrypt ln=17,r=8,p=1', scrypt('ln=17,r=8,p=1')],
    ['scrypt ln=16,r=8,p=2', scrypt('ln=16,r=8,p=2')],
    ['scrypt ln=13,r=8,p=10', scrypt('ln=13,r=8,p=10')],
  ])('accepts %s', (_, phc) => {
    expect(parsePasswordHash(phc)).toBeUndefined()
  })

  const argonFloor =
    "must be at least as strong as OWASP's argon2id m=19456,t=2 (or m=47104,t=1; m=12288,t=3; m=9216,t=4; m=7168,t=5); this has"
  const scryptFloor =
    "must be at least as strong as OWASP's scrypt ln=17,r=8,p=1 (or ln=16,p=2; ln=15,p=3; ln=14,p=5; ln=13,p=10; r ≥ 8); this has"
  it.each([
    ['a password', 'hunter2-hunter2', 'must be a hash from `mandate user hash-password`, never a password'],
    ['an empty string', '', 'must be a hash from `mandate user hash-password`, never a password'],
    ['bcrypt', `$2b$12$${'a'.repeat(53)}`, 'must be argon2id or scrypt'],
    ['argon2i', argon2id('m=19456,t=2,p=1').replace('argon2id', 'argon2i'), 'must be argon2id or scrypt'],
    [
      'argon2id without a version',
      `$argon2id$m=19456,t=2,p=1$${salt16}$${tag32}`,
      'must be a PHC string: $argon2id$v=19$m=…,t=…,p=…$<salt>$<hash> or $scrypt$ln=…,r=…,p=…$<salt>$<hash>',
    ],
    ['argon2id version 16', argon2id('m=19456,t=2,p=1').replace('v=19', 'v=16'), 'must be argon2id version 19 (v=19)'],
    ['argon2id m=19456,t=1', argon2id('m=19456,t=1,p=1'), `${argonFloor} m=19456,t=1`],
    ['argon2id m=4096,t=3', argon2id('m=4096,t=3,p=1'), `${argonFloor} m=4096,t=3`],
    ['argon2id m=7168,t=4', argon2id('m=7168,t=4,p=1'), `${argonFloor} m=7168,t=4`],
    ['scrypt ln=16,r=8,p=1', scrypt('ln=16,r=8,p=1'), `${scryptFloor} ln=16,r=8,p=1`],
    ['scrypt ln=17,r=4,p=1', scrypt('ln=17,r=4,p=1'), `${scryptFloor} ln=17,r=4,p=1`],
    ['scrypt ln=14,r=8,p=1 (the client-secret cost)', scrypt('ln=14,r=8,p=1'), `${scryptFloor} ln=14,r=8,p=1`],
    ['an 8-byte salt', REFERENCE_ARGON2ID, 'must have a salt of at least 16 bytes'],
    [
      'a 12-byte hash',
      argon2id('m=19456,t=2,p=1', salt16, b64(randomBytes(12))),
      'must have a hash of at least 16 bytes',
    ],
    ['argon2id m of 2 GiB', argon2id('m=2097152,t=2,p=1'), 'must cost at most m=1048576,t=16,p=16 to verify'],
    ['argon2id t=100', argon2id('m=19456,t=100,p=1'), 'must cost at most m=1048576,t=16,p=16 to verify'],
    ['scrypt of 2 GiB', scrypt('ln=21,r=8,p=1'), 'must cost at most 1 GiB (128·2^ln·r bytes) and p=16 to verify'],
    [
      'padded base64',
      argon2id('m=19456,t=2,p=1', `${salt16}==`),
      'must be a PHC string: $argon2id$v=19$m=…,t=…,p=…$<salt>$<hash> or $scrypt$ln=…,r=…,p=…$<salt>$<hash>',
    ],
  ])('refuses %s', (_, phc, problem) => {
    expect(parsePasswordHash(phc)).toBe(problem)
  })

  it('never verifies a hash whose cost is over the ceiling (it is not even computed)', async () => {
    const started = performance.now()
    expect(await verifyPassword(PASSWORD, argon2id('m=4194304,t=16,p=1'))).toBe(false)
    expect(performance.now() - started).toBeLessThan(50)
  })
})

describe('passwordProblem', () => {
  it.each([
    ['11 characters', 'a'.repeat(11), 'a password needs at least 12 characters'],
    ['12 characters', 'a'.repeat(12), undefined],
    ['12 emoji (12 characters, 48 bytes)', '🔑'.repeat(12), undefined],
    ['11 emoji', '🔑'.repeat(11), 'a password needs at least 12 characters'],
    ['1024 characters', 'a'.repeat(1024), undefined],
    ['1025 characters', 'a'.repeat(1025), 'a password may have at most 1024 characters'],
  ])('%s', (_, password, problem) => {
    expect(passwordProblem(password)).toBe(problem)
  })
})

describe('dummyHash', () => {
  it('is one argon2id hash with the parameters of hashPassword, made once, that no password matches', async () => {
    const dummy = await dummyHash()
    expect(await dummyHash()).toBe(dummy)
    expect(parsePasswordHash(dummy)).toBeUndefined()
    const prefix = (phc: string) => phc.split('$').slice(0, 4).join('$')
    expect(prefix(dummy)).toBe(prefix(await hashPassword(PASSWORD)))
    for (const guess of ['', PASSWORD, 'password']) expect(await verifyPassword(guess, dummy)).toBe(false)
  })
})
