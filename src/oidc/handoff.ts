// Carries lineage from a grant (which knows the parent token) to the jwt customizer (which knows
// the final jti/iat/exp), typed, without stashing properties on oidc-provider's objects.
import type { AccessToken, ClientCredentials } from 'oidc-provider'

export interface Lineage {
  grantType: string
  parentJti: string | null
  ancestors: string[]
}

const pending = new WeakMap<AccessToken | ClientCredentials, Lineage>()

export const attachLineage = (token: AccessToken, lineage: Lineage): void => void pending.set(token, lineage)

export const lineageOf = (token: AccessToken | ClientCredentials): Lineage | undefined => pending.get(token)
