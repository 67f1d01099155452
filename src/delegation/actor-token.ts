// Verifies an actor_token (RFC 8693 §2.1): only our own active tokens are accepted. Whether the
// authenticated client may act as its holder, and whether it fits the subject token, is the policy's
// call (decide.ts, chain.ts).
import type { IssuedToken } from '../lineage/tokens.ts'
import { identityOnly, inNamespace } from '../policy/act-claim.ts'
import { SELF_ISSUER } from '../policy/schema.ts'
import type { ActorFacts } from './decide.ts'
import { Denied } from './denied.ts'
import { boundKey } from '../dpop/bound-key.ts'
import { type TokenDeps, verifyOwnActiveToken } from './subject-token.ts'

export interface VerifiedActor {
  facts: ActorFacts
  jti: string
  /** Its lineage row: the minted token depends on it (depends_on, task_path, parties). */
  row: IssuedToken
}

export async function verifyActor(token: string, deps: TokenDeps): Promise<VerifiedActor> {
  const own = await verifyOwnActiveToken(token, deps)
  if (!own) throw new Denied('actor_token.invalid', 'not one of our active access tokens')
  const { payload, row } = own
  const jkt = boundKey(row, payload)
  const act = inNamespace(payload.act === undefined ? undefined : identityOnly(payload.act), undefined, deps.issuer)
  return {
    facts: {
      holder: payload.client_id,
      sub: payload.sub,
      origin: row.subject_issuer ?? SELF_ISSUER,
      ...(act ? { act } : {}),
      expiresAt: payload.exp,
      ...(jkt ? { jkt } : {}),
      lineage: row,
    },
    jti: payload.jti,
    row,
  }
}
