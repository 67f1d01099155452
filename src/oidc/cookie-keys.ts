// oidc-provider cookie keys, derived from the master key so every process signs cookies alike.
import { createHash } from 'node:crypto'

export function deriveCookieKeys(masterKeys: readonly Buffer[]): string[] {
  return masterKeys.map((key) => createHash('sha256').update('mandate cookie key').update(key).digest('base64url'))
}
