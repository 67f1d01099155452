// AES-256-GCM envelope for private keys at rest. The first master key seals, every listed key
// opens (master-key rotation); the row's kid is bound as additional data so blobs cannot be swapped.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'

const fingerprint = (key: Buffer) => createHash('sha256').update(key).digest('hex').slice(0, 8)

export function seal(plaintext: string, masterKeys: readonly Buffer[], boundTo: string): string {
  const key = masterKeys[0]
  if (!key) throw new Error('no master key to seal with')
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(boundTo))
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()])
  return ['v1', fingerprint(key), iv.toString('base64url'), body.toString('base64url')].join('.')
}

export class SealedKeyError extends Error {
  override name = 'SealedKeyError'
}

export function open(sealed: string, masterKeys: readonly Buffer[], boundTo: string): string {
  const [version, print, iv, body] = sealed.split('.')
  const key = masterKeys.find((candidate) => fingerprint(candidate) === print)
  if (version !== 'v1' || !iv || !body) throw new SealedKeyError(`sealed key ${boundTo} has an unknown format`)
  if (!key)
    throw new SealedKeyError(`sealed key ${boundTo} was sealed with a master key that is not configured (${print})`)
  const bytes = Buffer.from(body, 'base64url')
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url')).setAAD(Buffer.from(boundTo))
  decipher.setAuthTag(bytes.subarray(-16))
  try {
    return Buffer.concat([decipher.update(bytes.subarray(0, -16)), decipher.final()]).toString('utf8')
  } catch (cause) {
    throw new SealedKeyError(`sealed key ${boundTo} does not open with the configured master key`, { cause })
  }
}
