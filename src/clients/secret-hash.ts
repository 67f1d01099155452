// Client secrets are stored as scrypt hashes (never the secret). Verification is slow on purpose;
// a small in-process cache of recent successes keeps the token endpoint fast for repeat callers.
import { createHash, randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto'

const params = { N: 16384, r: 8, p: 1 } as const
const keyLength = 32

const derive = (secret: string, salt: Buffer, options: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) =>
    scrypt(secret, salt, keyLength, { ...options, maxmem: 64 * 1024 * 1024 }, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  )

export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16)
  const hash = await derive(secret, salt, params)
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), hash.toString('base64url')].join('$')
}

const verified = new Map<string, true>()
const cacheSize = 1024

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const cacheKey = createHash('sha256').update(stored).update('\0').update(secret).digest('base64url')
  if (verified.has(cacheKey)) return true
  const [scheme, N, r, p, salt, hash] = stored.split('$')
  if (scheme !== 'scrypt' || !salt || !hash) return false
  const expected = Buffer.from(hash, 'base64url')
  const actual = await derive(secret, Buffer.from(salt, 'base64url'), { N: Number(N), r: Number(r), p: Number(p) })
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return false
  if (verified.size >= cacheSize) verified.delete(verified.keys().next().value as string)
  verified.set(cacheKey, true)
  return true
}
