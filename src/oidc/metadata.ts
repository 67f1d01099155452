// What the provider publishes: RFC 8414 metadata and the RFC 7517 JWK Set.
import type { KoaContextWithOIDC } from 'oidc-provider'
import { JWKS_MAX_AGE } from '../config/schema.ts'
import type { KeyRing } from '../keys/ring.ts'

/**
 * RFC 8414 §3 metadata at both well-known paths (its members are OpenID Discovery's), advertising exactly
 * the grants a client can be registered for (oidc-provider derives its list from response types alone).
 */
export function serveDiscovery(offeredGrants: ReadonlySet<string>) {
  return async function discovery(ctx: KoaContextWithOIDC, next: () => Promise<void>) {
    if (ctx.path === '/.well-known/oauth-authorization-server') ctx.path = '/.well-known/openid-configuration'
    await next()
    if (ctx.path === '/.well-known/openid-configuration' && ctx.status === 200 && ctx.body) {
      ;(ctx.body as Record<string, unknown>).grant_types_supported = [...offeredGrants]
    }
  }
}

/** RFC 7517 JWK Set: every published key (pending, active, retained), not only the one that signs. */
export function serveJwks(ring: KeyRing) {
  return async function jwks(ctx: KoaContextWithOIDC, next: () => Promise<void>) {
    if (ctx.path !== '/jwks' || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next()
    ctx.type = 'application/jwk-set+json; charset=utf-8'
    ctx.set('Cache-Control', `public, max-age=${JWKS_MAX_AGE}`)
    ctx.body = ring.jwks()
  }
}
