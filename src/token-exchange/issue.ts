// Mints the exchanged token (oidc/issuance.ts: through oidc-provider's AccessToken model, its lineage
// row written by the grant's `record`) and builds the RFC 8693 §2.2.1 response.
import type { KoaContextWithOIDC } from 'oidc-provider'
import type { Allowed } from '../delegation/decision.ts'
import type { VerifiedSubject } from '../delegation/subject-token.ts'
import type { IssuedTokenWrite } from '../lineage/tokens.ts'
import { ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE, TOKEN_EXCHANGE } from '../oauth/protocol.ts'
import { mintAccessToken } from '../oidc/issuance.ts'
import type { EffectivePolicy } from '../policy/effective.ts'
import { SELF_ISSUER } from '../policy/schema.ts'
import type { ResourceRow } from '../resources/store.ts'

export interface IssueInput {
  ctx: KoaContextWithOIDC
  /** Writes the lineage row (with what must commit with it); may withhold the token (IssuanceWithheld). */
  record(row: IssuedTokenWrite): Promise<void>
  decision: Allowed
  subject: VerifiedSubject
  targets: readonly ResourceRow[]
  policy: EffectivePolicy
  decisionId: string
  taskId?: string | undefined
  actorJti?: string | undefined
  /** RFC 9449 §6.1: the proof key the token is bound to. */
  jkt?: string | undefined
  requestedTokenType?: string | undefined
  now: number
}

export interface ExchangeResponse {
  access_token: string
  issued_token_type: string
  token_type: 'Bearer' | 'DPoP'
  expires_in: number
  scope: string
}

export async function issueExchangedToken(input: IssueInput): Promise<{ body: ExchangeResponse; jti: string }> {
  const { decision, subject, targets, policy } = input
  const { value, row } = await mintAccessToken(
    input.ctx,
    {
      accountId: subject.facts.sub,
      scope: decision.scope,
      expiresIn: Math.max(1, decision.expiresAt - input.now),
      resource: (targets[0] as ResourceRow).uri,
      claims: {
        ...(decision.act ? { act: decision.act } : {}),
        ...(input.taskId ? { task_id: input.taskId } : {}),
        policy_path: policy.path,
        policy_version: policy.version,
      },
      jkt: input.jkt,
    },
    {
      grantType: TOKEN_EXCHANGE,
      parentJti: subject.row?.jti ?? null,
      // RFC 8693 lineage: the whole chain above, so revoking any ancestor ends this token at read time.
      ancestors: subject.row ? [...subject.row.ancestors, subject.row.jti] : [],
      audiences: targets.map((t) => t.uri),
      notAfter: decision.expiresAt,
      columns: {
        // The issuer that vouches for sub, carried down the chain (null: Mandate itself).
        subject_issuer: subject.origin === SELF_ISSUER ? null : subject.origin,
        subject_ref: subject.row ? null : subject.ref,
        act: decision.act ?? null,
        task_id: input.taskId ?? null,
        policy_path: policy.path,
        policy_version: policy.version,
        decision_id: input.decisionId,
        task_path: decision.dependencies.taskPath,
        depends_on: decision.dependencies.dependsOn,
        actor_jti: input.actorJti ?? null,
        parties: decision.parties,
      },
      record: input.record,
    },
  )
  return {
    jti: row.jti,
    body: {
      access_token: value,
      // RFC 8693 §2.2.1: issued_token_type is required; our access tokens are JWTs, so either is true.
      issued_token_type: input.requestedTokenType === JWT_TOKEN_TYPE ? JWT_TOKEN_TYPE : ACCESS_TOKEN_TYPE,
      // RFC 9449 §5: a bound token is of type DPoP.
      token_type: input.jkt ? 'DPoP' : 'Bearer',
      expires_in: Math.max(0, Math.floor(row.expires_at.getTime() / 1000) - input.now),
      scope: decision.scope.join(' '),
    },
  }
}
