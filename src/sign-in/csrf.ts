// CSRF protection of the sign-in and consent forms (RFC 6819 §4.4.1.8, OWASP synchronizer token): each
// form carries an HMAC of the interaction's uid, which only the browser holding the interaction cookie
// (signed, HttpOnly, SameSite=Lax) learns; and a form posted from another site is refused outright
// (Fetch Metadata Sec-Fetch-Site, else Origin). Pure.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'

export function deriveCsrfKey(masterKeys: readonly Buffer[]): Buffer {
  return createHash('sha256')
    .update('mandate csrf key')
    .update(masterKeys[0] as Buffer)
    .digest()
}

export const csrfToken = (key: Buffer, uid: string): string =>
  createHmac('sha256', key).update(`interaction:${uid}`).digest('base64url')

export function csrfValid(key: Buffer, uid: string, presented: unknown): boolean {
  if (typeof presented !== 'string') return false
  const expected = Buffer.from(csrfToken(key, uid))
  const actual = Buffer.from(presented)
  return actual.length === expected.length && timingSafeEqual(actual, expected)
}

/** A form post from our own pages: not marked cross-site by the browser, and no foreign Origin. */
export function fromOwnOrigin(headers: { fetchSite: string; origin: string }, issuerOrigin: string): boolean {
  if (headers.fetchSite && headers.fetchSite !== 'same-origin' && headers.fetchSite !== 'none') return false
  return !headers.origin || headers.origin === issuerOrigin
}
