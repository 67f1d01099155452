// What a token a person granted an app may hold (RFC 6749 §4.1, RFC 8707 §2): the scopes the client is
// registered for, the resource's catalogue and, when a policy path is bound to (client, resource,
// authorization_code), its scope ceiling and lifetime. A refresh re-decides under the same binding, so a
// narrowing reaches the next token of every grant. Pure; oidc/resource-indicators.ts wires it in.
import { ADMIN_SCOPE } from '../clients/schema.ts'
import type { EffectivePolicy } from '../policy/effective.ts'

export interface AuthorizationCodeFacts {
  clientScopes: readonly string[]
  resource: { scopes: readonly string[]; accessTokenLifetime: number }
  /** The path bound to (client, resource, authorization_code), if any. */
  policy?: EffectivePolicy | undefined
  /** RFC 9449 §5.2: the client must send proofs (dpop_bound_access_tokens). */
  clientRequiresDpop: boolean
  /** At the token endpoint (not /auth): a DPoP header came with the request. */
  proofPresented: boolean
  atTokenEndpoint: boolean
}

export type AuthorizationCodeOutcome =
  | {
      ok: true
      /** Every scope this client may be granted at this resource; what the person consents to is within it. */
      scopes: string[]
      /** Seconds: the resource's lifetime, shortened by the path's. */
      lifetime: number
    }
  | { ok: false; error: 'invalid_target' | 'dpop_required' }

export function decideAuthorizationCode(facts: AuthorizationCodeFacts): AuthorizationCodeOutcome {
  const { policy, resource } = facts
  // mandate:admin makes a *client* an administrator (its own client_credentials tokens: docs/admin-api.md);
  // there are no administrator people, so a person's grant never carries it, or an app holding it would
  // make everyone who can sign in there (every upstream identity too) an administrator.
  const scopes = resource.scopes.filter(
    (scope) => scope !== ADMIN_SCOPE && facts.clientScopes.includes(scope) && (policy?.scopes?.includes(scope) ?? true),
  )
  // A resource the app may hold nothing at is no target for it: refused, not granted empty.
  if (scopes.length === 0) return { ok: false, error: 'invalid_target' }
  if (facts.atTokenEndpoint && (policy?.requireDpop || facts.clientRequiresDpop) && !facts.proofPresented) {
    return { ok: false, error: 'dpop_required' }
  }
  const lifetime = Math.min(resource.accessTokenLifetime, policy?.tokenLifetime ?? Number.POSITIVE_INFINITY)
  return { ok: true, scopes, lifetime }
}
