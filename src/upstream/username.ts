// The username a person gets at their first upstream sign-in: their preferred_username when it is a valid
// username, else one derived from the issuer and the ID token's sub (the same person gets the same name).
import { createHash } from 'node:crypto'

/** Usernames: lowercase letters, digits and . _ @ -, starting with a letter or digit, at most 128. */
export const USERNAME = /^[a-z0-9][a-z0-9._@-]{0,127}$/

/**
 * The usernames to try, in order: preferred_username lowercased, when valid; then
 * `<issuer-name>-<first 16 hex of sha256(sub)>`. The caller skips those taken by a user or a client_id.
 */
export function usernameCandidates(
  issuerName: string,
  claims: { sub: string; preferred_username?: unknown },
): string[] {
  const derived = `${issuerName}-${createHash('sha256').update(claims.sub).digest('hex').slice(0, 16)}`
  const preferred = typeof claims.preferred_username === 'string' ? claims.preferred_username.toLowerCase() : undefined
  return preferred !== undefined && USERNAME.test(preferred) && preferred !== derived ? [preferred, derived] : [derived]
}
