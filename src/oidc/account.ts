// The people oidc-provider issues for: Mandate users (src/users/). A disabled or unknown user has no
// account, so no sign-in, consent, refresh or userinfo answer is made for them (RFC 6749 §6: invalid_grant).
import type { Kysely } from 'kysely'
import type { Account, KoaContextWithOIDC } from 'oidc-provider'
import type { DB } from '../db/schema.ts'
import { findUser } from '../users/store.ts'
import { failClosed } from './errors.ts'

/** OpenID Connect Core §5.4: the standard scopes and the claims each one releases. */
export const OIDC_CLAIMS = {
  openid: ['sub'],
  profile: ['name', 'preferred_username'],
  email: ['email'],
}

/** openid, the claims scopes, and offline_access (OpenID Connect Core §11: refresh tokens). */
export const OIDC_SCOPES = ['openid', 'offline_access', 'profile', 'email']

export function findAccount(db: Kysely<DB>) {
  return async (_ctx: KoaContextWithOIDC, username: string): Promise<Account | undefined> => {
    const user = await failClosed(() => findUser(db, username))
    if (!user || user.disabled_at !== null) return undefined
    return {
      accountId: user.username,
      claims: async () => ({
        sub: user.username,
        preferred_username: user.username,
        ...(user.display_name ? { name: user.display_name } : {}),
        ...(user.email ? { email: user.email } : {}),
      }),
    }
  }
}
