// What a client_credentials token may hold (RFC 6749 §4.4): the client's registered scopes, the
// resource's catalogue and, when a policy path is bound to (client, resource, client_credentials), its
// ceilings. Pure; oidc/provider.ts wires it into oidc-provider's resource-indicator hook.
import type { EffectivePolicy } from '../policy/effective.ts'

export interface ClientCredentialsFacts {
  /** The scopes asked for (empty: none named). */
  requested: readonly string[]
  clientScopes: readonly string[]
  resource: { scopes: readonly string[]; accessTokenLifetime: number }
  /** The path bound to (client, resource, client_credentials), if any. */
  policy?: EffectivePolicy | undefined
  /** RFC 9449 §5.2: the client must send proofs (dpop_bound_access_tokens). */
  clientRequiresDpop: boolean
  /** A DPoP header came with the request (oidc-provider verified it before this runs). */
  proofPresented: boolean
  /** The request names exactly one resource: only then does an omitted scope mean the default. */
  oneResource: boolean
}

export type ClientCredentialsOutcome =
  | {
      ok: true
      /** RFC 6749 §3.3: the scope granted when none was asked for (everything allowed here). */
      defaultScope?: string[]
      /** Seconds: the resource's lifetime, shortened by the path's. */
      lifetime: number
    }
  | { ok: false; error: 'invalid_scope' | 'dpop_required' }

export function decideClientCredentials(facts: ClientCredentialsFacts): ClientCredentialsOutcome {
  const { policy, resource } = facts
  // RFC 9449 §5.2: a path or the client may require bound tokens.
  if ((policy?.requireDpop || facts.clientRequiresDpop) && !facts.proofPresented) {
    return { ok: false, error: 'dpop_required' }
  }
  const allowed = (scope: string) =>
    facts.clientScopes.includes(scope) && resource.scopes.includes(scope) && (policy?.scopes?.includes(scope) ?? true)
  // Scopes outside the client's, the resource's or the policy's catalogue are refused, never silently dropped.
  if (!facts.requested.every(allowed)) return { ok: false, error: 'invalid_scope' }
  const lifetime = Math.min(resource.accessTokenLifetime, policy?.tokenLifetime ?? Number.POSITIVE_INFINITY)
  // RFC 6749 §3.3: an omitted scope means the pre-defined default, everything this client may have from
  // this resource; an empty default fails the request. Several resources are refused later (invalid_target).
  if (facts.requested.length === 0 && facts.oneResource) {
    const defaultScope = resource.scopes.filter(allowed)
    if (defaultScope.length === 0) return { ok: false, error: 'invalid_scope' }
    return { ok: true, defaultScope, lifetime }
  }
  return { ok: true, lifetime }
}
