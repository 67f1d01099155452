// People's passwords, stored only as PHC strings: argon2id (what we hash with) or scrypt (verified, for hashes
// brought from elsewhere), never weaker than the OWASP Password Storage Cheat Sheet. Hashing runs on libuv's
// thread pool (node:crypto's callback forms), never on the event loop.
import { argon2, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'

/** OWASP Password Storage Cheat Sheet, argon2id: 19 MiB, 2 passes, 1 lane; 16-byte salt, 32-byte tag. */
const HASHING = { m: 19456, t: 2, p: 1 } as const
const SALT_BYTES = 16
const TAG_BYTES = 32
/** Stored hashes have at least this much salt and tag; verifying needs only node's minimums (8 and 4 bytes). */
const MIN_BYTES = 16

/** NIST SP 800-63B §3.1.1.2: a floor on length, and a ceiling well above what anyone types. */
export const MIN_PASSWORD_LENGTH = 12
export const MAX_PASSWORD_LENGTH = 1024

// OWASP's configurations of equal strength: a hash meets the floor when it is at least as strong as one row.
const ARGON2ID_FLOOR = [
  { m: 47104, t: 1 },
  { m: 19456, t: 2 },
  { m: 12288, t: 3 },
  { m: 9216, t: 4 },
  { m: 7168, t: 5 },
] as const
const SCRYPT_FLOOR = [
  { ln: 17, p: 1 },
  { ln: 16, p: 2 },
  { ln: 15, p: 3 },
  { ln: 14, p: 5 },
  { ln: 13, p: 10 },
] as const
const SCRYPT_MIN_R = 8
// Every sign-in computes the stored hash: a ceiling keeps a typo from costing gigabytes or seconds each time.
const MAX_MEMORY_KIB = 1024 * 1024
const MAX_PASSES = 16
const MAX_LANES = 16

interface Argon2idHash {
  algorithm: 'argon2id'
  m: number
  t: number
  p: number
  salt: Buffer
  hash: Buffer
}
interface ScryptHash {
  algorithm: 'scrypt'
  ln: number
  r: number
  p: number
  salt: Buffer
  hash: Buffer
}
type PasswordHash = Argon2idHash | ScryptHash

// PHC string format (github.com/P-H-C/phc-string-format): decimal parameters, base64 without padding.
const B64 = '([A-Za-z0-9+/]+)'
const N = '(0|[1-9][0-9]{0,9})'
const ARGON2ID = new RegExp(`^\\$argon2id\\$v=${N}\\$m=${N},t=${N},p=${N}\\$${B64}\\$${B64}$`)
const SCRYPT = new RegExp(`^\\$scrypt\\$ln=${N},r=${N},p=${N}\\$${B64}\\$${B64}$`)

const NOT_A_HASH = 'must be a hash from `mandate user hash-password`, never a password'
const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '')
const bytes = (text: string) => Buffer.from(text, 'base64')

/** The hash, or why it cannot be verified at all (shape, algorithm, cost ceiling); the floor is not checked. */
function readHash(phc: string): PasswordHash | string {
  const argon = ARGON2ID.exec(phc)
  if (argon) {
    const [v, m, t, p] = argon.slice(1, 5).map(Number) as [number, number, number, number]
    if (v !== 19) return 'must be argon2id version 19 (v=19)'
    if (p < 1 || t < 1 || m < 8 * p) return 'must have argon2id parameters t ≥ 1, p ≥ 1 and m ≥ 8p'
    if (m > MAX_MEMORY_KIB || t > MAX_PASSES || p > MAX_LANES)
      return `must cost at most m=${MAX_MEMORY_KIB},t=${MAX_PASSES},p=${MAX_LANES} to verify`
    return withBytes({ algorithm: 'argon2id', m, t, p }, argon[5] as string, argon[6] as string)
  }
  const scryptMatch = SCRYPT.exec(phc)
  if (scryptMatch) {
    const [ln, r, p] = scryptMatch.slice(1, 4).map(Number) as [number, number, number]
    if (ln < 1 || r < 1 || p < 1) return 'must have scrypt parameters ln ≥ 1, r ≥ 1 and p ≥ 1'
    if (ln > 30 || 128 * 2 ** ln * r > MAX_MEMORY_KIB * 1024 || p > MAX_LANES)
      return `must cost at most 1 GiB (128·2^ln·r bytes) and p=${MAX_LANES} to verify`
    return withBytes({ algorithm: 'scrypt', ln, r, p }, scryptMatch[4] as string, scryptMatch[5] as string)
  }
  if (/^\$(argon2id|scrypt)\$/.test(phc))
    return 'must be a PHC string: $argon2id$v=19$m=…,t=…,p=…$<salt>$<hash> or $scrypt$ln=…,r=…,p=…$<salt>$<hash>'
  // bcrypt ($2b$), argon2i, sha512-crypt ($6$) …: a hash, but not of an algorithm we verify.
  if (/^\$[a-z0-9-]+\$/.test(phc)) return 'must be argon2id or scrypt'
  return NOT_A_HASH
}

function withBytes<T extends object>(
  params: T,
  salt: string,
  hash: string,
): (T & { salt: Buffer; hash: Buffer }) | string {
  if (salt.length % 4 === 1 || hash.length % 4 === 1) return 'must have base64 salt and hash (without padding)'
  const decoded = { ...params, salt: bytes(salt), hash: bytes(hash) }
  if (decoded.salt.length < 8 || decoded.hash.length < 4)
    return `must have a salt and a hash of at least ${MIN_BYTES} bytes`
  return decoded
}

/**
 * Why a PHC string may not be stored as a password hash (a phrase after the field's name: "must …"), or
 * undefined when it parses and meets OWASP's floor. Never quotes the value: it may be a password.
 */
export function parsePasswordHash(phc: string): string | undefined {
  const read = readHash(phc)
  if (typeof read === 'string') return read
  if (read.salt.length < MIN_BYTES) return `must have a salt of at least ${MIN_BYTES} bytes`
  if (read.hash.length < MIN_BYTES) return `must have a hash of at least ${MIN_BYTES} bytes`
  if (read.algorithm === 'argon2id') {
    if (ARGON2ID_FLOOR.some((row) => read.m >= row.m && read.t >= row.t)) return undefined
    return `must be at least as strong as OWASP's argon2id m=19456,t=2 (or m=47104,t=1; m=12288,t=3; m=9216,t=4; m=7168,t=5); this has m=${read.m},t=${read.t}`
  }
  if (read.r >= SCRYPT_MIN_R && SCRYPT_FLOOR.some((row) => read.ln >= row.ln && read.p >= row.p)) return undefined
  return `must be at least as strong as OWASP's scrypt ln=17,r=8,p=1 (or ln=16,p=2; ln=15,p=3; ln=14,p=5; ln=13,p=10; r ≥ 8); this has ln=${read.ln},r=${read.r},p=${read.p}`
}

/** Why a new password is refused (too short or too long), or undefined. Counted in characters (code points). */
export function passwordProblem(password: string): string | undefined {
  const length = [...password].length
  if (length < MIN_PASSWORD_LENGTH) return `a password needs at least ${MIN_PASSWORD_LENGTH} characters`
  if (length > MAX_PASSWORD_LENGTH) return `a password may have at most ${MAX_PASSWORD_LENGTH} characters`
  return undefined
}

// NIST SP 800-63B §3.1.1.2: the same password typed on two keyboards may differ only in Unicode form.
const normalized = (password: string) => password.normalize('NFKC')

function derive(password: string, hash: PasswordHash, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, key: Buffer) => (error ? reject(error) : resolve(key))
    if (hash.algorithm === 'argon2id') {
      const parameters = { message: normalized(password), nonce: hash.salt, memory: hash.m, passes: hash.t }
      argon2('argon2id', { ...parameters, parallelism: hash.p, tagLength: length }, done)
    } else {
      const N = 2 ** hash.ln
      scrypt(normalized(password), hash.salt, length, { N, r: hash.r, p: hash.p, maxmem: 256 * N * hash.r }, done)
    }
  })
}

/** A new argon2id PHC string of the password (OWASP parameters, a fresh salt). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES)
  const tag = await derive(password, { algorithm: 'argon2id', ...HASHING, salt, hash: Buffer.alloc(0) }, TAG_BYTES)
  return `$argon2id$v=19$m=${HASHING.m},t=${HASHING.t},p=${HASHING.p}$${b64(salt)}$${b64(tag)}`
}

/** Whether the password matches the PHC string (argon2id or scrypt); false for one that does not parse. */
export async function verifyPassword(password: string, phc: string): Promise<boolean> {
  const stored = readHash(phc)
  if (typeof stored === 'string') return false
  const actual = await derive(password, stored, stored.hash.length)
  return timingSafeEqual(actual, stored.hash)
}

let dummy: Promise<string> | undefined
/**
 * A hash of a random password, made once with the parameters of hashPassword: verified in place of a user's
 * when there is none (unknown, disabled, no password), so a refusal takes as long whatever its cause.
 */
export const dummyHash = (): Promise<string> => {
  dummy ??= hashPassword(randomBytes(32).toString('base64url'))
  return dummy
}
