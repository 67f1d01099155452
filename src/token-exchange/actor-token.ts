// Verifies an actor_token (RFC 8693 §2.1): only our own active tokens are accepted. Whether the
// authenticated client may act as it is the policy's call (evaluate.ts), from `ownedByClient`.
import type { IssuedToken } from '../lineage/tokens.ts'
import { Denied } from './denials.ts'
import { type TokenDeps, verifyOwnActiveToken } from './subject-token.ts'

export interface VerifiedActor {
  sub: string
  jti: string
  ownedByClient: boolean
  expiresAt: number
  /** Its lineage row: the minted token depends on it (depends_on, task_path). */
  row: IssuedToken
}

export async function verifyActor(token: string, client: string, deps: TokenDeps): Promise<VerifiedActor> {
  const own = await verifyOwnActiveToken(token, deps)
  if (!own) throw new Denied('actor_token.invalid', 'not one of our active access tokens')
  const { payload, row } = own
  return {
    sub: payload.sub,
    jti: payload.jti,
    ownedByClient: payload.client_id === client || payload.sub === client,
    expiresAt: payload.exp,
    row,
  }
}
