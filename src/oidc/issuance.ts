// How a grant of ours issues an access token through oidc-provider's own AccessToken model (keystore,
// at+jwt header, claim layout shared with every token) and learns the lineage row that was written.
// The row can only be built in the jwt customizer, which sees the final jti, iat and exp; the grant
// knows the rest. They meet here, in a one-shot channel per token: mintAccessToken opens it, the
// customizer takes it (takeIssuance) and reports the row written; nothing is stashed on provider
// objects. See docs/decisions/0005-issuance-through-a-one-shot-channel.md.
import type { AccessToken, ClientCredentials, KoaContextWithOIDC } from 'oidc-provider'
import { SIGNING_ALG } from '../keys/store.ts'
import type { GrantColumns, IssuedTokenWrite } from '../lineage/tokens.ts'

/** What the grant knows about the token it issues, for its lineage row. */
export interface Issuance {
  grantType: string
  parentJti: string | null
  ancestors: string[]
  /** Every audience, when one token targets several resources (the provider model holds one). */
  audiences: string[]
  /** exp is clamped to this (epoch seconds): a child never outlives its parent. */
  notAfter: number
  columns: GrantColumns
  /** Writes the row inside the grant's transaction (with its decision record). */
  record(row: IssuedTokenWrite): Promise<void>
}

export interface MintInput {
  /** The subject the token is for (sub). */
  accountId: string
  scope: string[]
  /** Seconds from now; the customizer clamps exp to issuance.notAfter. */
  expiresIn: number
  /** RFC 8707: the primary resource (aud); issuance.audiences lists every one. */
  resource: string
  /** Claims beyond RFC 9068 §2.2 (act, task_id, policy_path, …). */
  claims: Record<string, unknown>
  /** RFC 9449 §6: the proof key the token is bound to (oidc-provider writes cnf.jkt). */
  jkt?: string | undefined
}

/**
 * Thrown by an issuance's `record` when the grant's own write decided against the token (a proof already
 * spent, a task ended meanwhile): no row was written and no token leaves, but this is no failure.
 */
export class IssuanceWithheld<Why = unknown> extends Error {
  override name = 'IssuanceWithheld'
  readonly why: Why
  constructor(why: Why) {
    super('issuance withheld')
    this.why = why
  }
}

interface Channel {
  issuance: Issuance
  written?: IssuedTokenWrite
}

const open = new WeakMap<AccessToken | ClientCredentials, Channel>()

/** Signs the token; resolves once its lineage row is written (the customizer throws if it cannot be). */
export async function mintAccessToken(
  ctx: KoaContextWithOIDC,
  input: MintInput,
  issuance: Issuance,
): Promise<{ value: string; row: IssuedTokenWrite }> {
  const { provider, client } = ctx.oidc
  const scope = input.scope.join(' ')
  const token = new provider.AccessToken({
    accountId: input.accountId,
    client: client as NonNullable<typeof client>,
    gty: issuance.grantType,
    ...(scope ? { scope } : {}),
    ...(input.jkt ? { jkt: input.jkt } : {}),
    expiresIn: input.expiresIn,
    resourceServer: new provider.ResourceServer(input.resource, {
      scope,
      audience: input.resource,
      accessTokenFormat: 'jwt',
      jwt: { sign: { alg: SIGNING_ALG } },
    }),
    extra: input.claims,
    // The typings require a grantId (and miss expiresIn/jkt): JWT access tokens of a grant of ours have no grant.
  } as unknown as ConstructorParameters<typeof provider.AccessToken>[0])
  const channel: Channel = { issuance }
  open.set(token, channel)
  const value = await token.save()
  if (!channel.written) throw new Error('the lineage row of an issued token was not written')
  return { value, row: channel.written }
}

/**
 * For the jwt customizer: the issuance of this token, once (a second take finds nothing), and the
 * call to make once its row is written. undefined for tokens oidc-provider issues itself.
 */
export function takeIssuance(
  token: AccessToken | ClientCredentials,
): { issuance: Issuance; written(row: IssuedTokenWrite): void } | undefined {
  const channel = open.get(token)
  if (!channel) return undefined
  open.delete(token)
  return {
    issuance: channel.issuance,
    written: (row) => {
      channel.written = row
    },
  }
}
