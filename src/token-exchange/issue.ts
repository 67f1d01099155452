// Mints the exchanged token through oidc-provider's own AccessToken model (keystore, at+jwt header,
// claim layout shared with every other token) and builds the RFC 8693 §2.2.1 response.
import type { Kysely } from 'kysely'
import type { AccessToken, KoaContextWithOIDC } from 'oidc-provider'
import type { DB } from '../db/schema.ts'
import { SIGNING_ALG } from '../keys/store.ts'
import { recordIssuedToken } from '../lineage/tokens.ts'
import { attachLineage } from '../oidc/handoff.ts'
import type { Decision } from '../policy/decision.ts'
import type { EffectivePolicy } from '../policy/effective.ts'
import { ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE, TOKEN_EXCHANGE } from '../oauth/protocol.ts'
import type { ResourceRow } from '../resources/store.ts'
import type { TokenDependencies } from './dependencies.ts'
import type { VerifiedSubject } from './subject-token.ts'

export interface IssueInput {
  ctx: KoaContextWithOIDC
  trx: Kysely<DB>
  decision: Extract<Decision, { allow: true }>
  subject: VerifiedSubject
  targets: readonly ResourceRow[]
  policy: EffectivePolicy
  decisionId: string
  taskId?: string | undefined
  /** Every task and token the minted token depends on (dependencies.ts). */
  dependencies: TokenDependencies
  actorJti?: string | undefined
  /** Every client whose disabling ends the token (dependencies.ts partiesOf). */
  parties: string[]
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
  const { ctx, decision, subject, targets, policy } = input
  const { provider, client } = ctx.oidc
  const primary = targets[0] as ResourceRow
  const scope = decision.scope.join(' ')
  const claims = {
    ...(decision.act ? { act: decision.act } : {}),
    ...(input.taskId ? { task_id: input.taskId } : {}),
    policy_path: policy.path,
    policy_version: policy.version,
  }
  const token = new provider.AccessToken({
    accountId: subject.facts.sub,
    client: client as NonNullable<typeof client>,
    gty: TOKEN_EXCHANGE,
    grantId: undefined as unknown as string, // typed as required; JWT access tokens have no grant
    ...(scope ? { scope } : {}),
    // RFC 9449 §6: a bound token carries cnf.jkt (oidc-provider writes it from jkt).
    ...(input.jkt ? { jkt: input.jkt } : {}),
    expiresIn: Math.max(1, decision.expiresAt - input.now),
    resourceServer: new provider.ResourceServer(primary.uri, {
      scope: decision.scope.join(' '),
      audience: primary.uri,
      accessTokenFormat: 'jwt',
      jwt: { sign: { alg: SIGNING_ALG } },
    }),
    extra: claims,
  } as unknown as ConstructorParameters<typeof provider.AccessToken>[0]) as AccessToken

  const lineage = {
    grantType: TOKEN_EXCHANGE,
    parentJti: subject.row?.jti ?? null,
    // RFC 8693 lineage: the whole chain above, so revoking any ancestor ends this token at read time.
    ancestors: subject.row ? [...subject.row.ancestors, subject.row.jti] : [],
    audiences: targets.map((t) => t.uri),
    notAfter: decision.expiresAt,
    columns: {
      // The issuer that vouches for sub, carried down the chain (null: Mandate itself).
      subject_issuer: subject.origin === 'self' ? null : subject.origin,
      subject_ref: subject.row ? null : subject.ref,
      act: decision.act ?? null,
      task_id: input.taskId ?? null,
      policy_path: policy.path,
      policy_version: policy.version,
      decision_id: input.decisionId,
      task_path: input.dependencies.taskPath,
      depends_on: input.dependencies.dependsOn,
      actor_jti: input.actorJti ?? null,
      parties: input.parties,
    },
    record: (row: Parameters<typeof recordIssuedToken>[1]) => recordIssuedToken(input.trx, row),
  }
  attachLineage(token, lineage)
  const value = await token.save()
  const written = (lineage as { written?: { jti: string; expires_at: Date } }).written
  if (!written) throw new Error('the lineage row of an exchanged token was not written')
  return {
    jti: written.jti,
    body: {
      access_token: value,
      // RFC 8693 §2.2.1: issued_token_type is required; our access tokens are JWTs, so either is true.
      issued_token_type: input.requestedTokenType === JWT_TOKEN_TYPE ? JWT_TOKEN_TYPE : ACCESS_TOKEN_TYPE,
      // RFC 9449 §5: a bound token is of type DPoP.
      token_type: input.jkt ? 'DPoP' : 'Bearer',
      expires_in: Math.max(0, Math.floor(written.expires_at.getTime() / 1000) - input.now),
      scope,
    },
  }
}
