// Carries lineage from a grant (which knows the parent token, the decision and the transaction) to
// the jwt customizer (which knows the final jti/iat/exp), typed, without properties stashed on
// oidc-provider's objects.
import type { AccessToken, ClientCredentials } from 'oidc-provider'
import type { IssuedTokenWrite } from '../lineage/tokens.ts'

export interface Lineage {
  grantType: string
  parentJti: string | null
  ancestors: string[]
  /** Every audience, when one token targets several resources (the provider model holds one). */
  audiences?: string[]
  /** exp is clamped to this (epoch seconds): a child never outlives its parent. */
  notAfter?: number
  columns?: Pick<
    IssuedTokenWrite,
    | 'subject_issuer'
    | 'subject_ref'
    | 'act'
    | 'task_id'
    | 'policy_path'
    | 'policy_version'
    | 'decision_id'
    | 'task_path'
    | 'actor_jti'
    | 'depends_on'
    | 'parties'
  >
  /** Writes the row inside the grant's transaction (with its decision record). */
  record?: (row: IssuedTokenWrite) => Promise<void>
  /** Set by the customizer: the row as written. */
  written?: IssuedTokenWrite
}

const pending = new WeakMap<AccessToken | ClientCredentials, Lineage>()

export const attachLineage = (token: AccessToken, lineage: Lineage): void => void pending.set(token, lineage)

export const lineageOf = (token: AccessToken | ClientCredentials): Lineage | undefined => pending.get(token)
