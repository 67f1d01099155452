// A JWS Compact Serialization (RFC 7515 §7.1) taken apart strictly: three segments of unpadded,
// canonical base64url (§2), a header that is a JSON object in well-formed UTF-8. Nothing is verified here.

export interface CompactJws {
  header: Record<string, unknown>
  /** ASCII bytes of `header.payload`: what the signature covers (RFC 7515 §5.2). */
  signingInput: Buffer
  /** Decoded, not parsed: the claims are read only after the signature is verified. */
  payload: Buffer
  signature: Buffer
}

const BASE64URL = /^[A-Za-z0-9_-]*$/
// fatal: malformed UTF-8 (a lone surrogate encoded as bytes included) is refused, never replaced with U+FFFD.
// ignoreBOM: a byte order mark is kept, so JSON.parse refuses it (RFC 8259 §8.1).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** The bytes of a canonical base64url segment: one encoding per value, so no whitespace, padding or stray bits. */
export function decodeBase64url(segment: string): Buffer | undefined {
  if (segment.length % 4 === 1 || !BASE64URL.test(segment)) return undefined
  const bytes = Buffer.from(segment, 'base64url')
  return bytes.toString('base64url') === segment ? bytes : undefined
}

/** A JSON object (RFC 7519 §7.2 step 10; RFC 7515 §5.2 step 3), or undefined for anything else. */
export function parseJsonObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  let value: unknown
  try {
    value = JSON.parse(utf8.decode(bytes))
  } catch {
    return undefined
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined
}

export function parseCompactJws(token: string): CompactJws | undefined {
  if (typeof token !== 'string') return undefined
  const segments = token.split('.')
  if (segments.length !== 3) return undefined
  const [encodedHeader, encodedPayload, encodedSignature] = segments as [string, string, string]
  const headerBytes = decodeBase64url(encodedHeader)
  const header = headerBytes && parseJsonObject(headerBytes)
  const payload = decodeBase64url(encodedPayload)
  const signature = decodeBase64url(encodedSignature)
  if (!header || !payload || !signature) return undefined
  const signingInput = Buffer.from(token.slice(0, encodedHeader.length + 1 + encodedPayload.length), 'latin1')
  return { header, signingInput, payload, signature }
}
