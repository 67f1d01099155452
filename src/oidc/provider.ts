// The oidc-provider configuration, in one place. Clients, resources and keys come from Postgres;
// every access token is an RFC 9068 JWT for exactly one RFC 8707 resource.
import { createHash } from 'node:crypto'
import type { Kysely } from 'kysely'
import Provider, { type Client, errors, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider'
import { writeAudit } from '../audit/write.ts'
import { decideClientCredentials } from '../client-credentials/rules.ts'
import { verifySecret } from '../clients/secret-hash.ts'
import { loadEffectivePolicy } from '../delegation/load-policy.ts'
import type { DB } from '../db/schema.ts'
import type { KeyRing } from '../keys/ring.ts'
import { SIGNING_ALG } from '../keys/store.ts'
import { CLIENT_CREDENTIALS } from '../oauth/protocol.ts'
import type { OurAccessToken } from '../keys/verify-access-token.ts'
import type { Clock } from '../lib/clock.ts'
import { type IssuedToken, recordIssuedToken } from '../lineage/tokens.ts'
import type { Log } from '../observability/log.ts'
import type { Metrics } from '../observability/metrics.ts'
import { RESOURCE_INVALID, SCOPE_INVALID } from '../oauth/descriptions.ts'
import type { EffectivePolicy } from '../policy/effective.ts'
import { findResourceByUri } from '../resources/store.ts'
import { JWKS_MAX_AGE } from '../config/schema.ts'
import { DPOP_ALGORITHMS, PROOF_WINDOW } from '../dpop/proof.ts'
import { toDate } from '../lib/clock.ts'
import { claimOnce } from '../replay/claim-once.ts'
import { persistingCustomizer } from './access-token-format.ts'
import { adapterFactory } from './adapter.ts'
import { CLIENT_SCOPES, clientMetadata, isAdmin, requiresDpop, scopesOf } from './client-metadata.ts'
import { dropUnservedMetadata, UNUSED_ENDPOINTS_OFF } from './endpoints.ts'
import { failClosed } from './errors.ts'
import { jwtBridge } from './jwt-bridge.ts'
import { answerMissingClientAuth } from './missing-client-auth.ts'
import { KeyRingSigningKey } from './signing-key.ts'
import { answerUnauthorizedClient } from './unauthorized-client.ts'

export interface ProviderDeps {
  issuer: string
  db: Kysely<DB>
  ring: KeyRing
  clock: Clock
  clockTolerance: number
  cookieKeys: string[]
  log: Log
  metrics: Metrics
  verifyAccessToken(token: string): Promise<OurAccessToken | undefined>
  /** Grants the app registers beyond the built-in client_credentials (for example token exchange). */
  extraGrantTypes: readonly string[]
  /** RFC 9449 §8: the secret of the stateless DPoP nonces every process shares (dpop-nonces.ts). */
  dpopNonceSecret: Buffer
  requireDpopNonce: boolean
}

export function buildProvider(deps: ProviderDeps): Provider {
  const { db, ring, log, metrics } = deps
  // The policy path a client_credentials request was decided under, for its token's claims.
  const clientCredentialsPolicies = new WeakMap<object, EffectivePolicy>()
  const offeredGrants = new Set<string>()

  const provider = new Provider(deps.issuer, {
    adapter: adapterFactory({
      db,
      clock: deps.clock,
      clientMetadata: (row) => clientMetadata(row, offeredGrants),
      onRevoked: async (row) => {
        metrics.tokensRevoked.inc({ cause: 'client' })
        // RFC 7009 revocation: the token and, at read time, its whole subtree of descendants.
        await writeAudit(db, {
          type: 'token.revoked',
          at: deps.clock.now(),
          actor: row.client_id,
          requestId: (Provider.ctx?.state?.reqId as string | undefined) ?? null,
          subject: row.sub,
          taskId: row.task_id,
          jti: row.jti,
          data: { cause: 'rfc7009' },
        })
      },
    }),
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    clientDefaults: {
      grant_types: [],
      response_types: [],
      id_token_signed_response_alg: SIGNING_ALG,
      token_endpoint_auth_method: 'client_secret_basic',
    },
    clockTolerance: deps.clockTolerance,
    cookies: { keys: deps.cookieKeys },
    enabledJWA: {
      idTokenSigningAlgValues: [SIGNING_ALG],
      clientAuthSigningAlgValues: ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'EdDSA'],
      dPoPSigningAlgValues: [...DPOP_ALGORITHMS],
    },
    // RFC 7523 §3: an assertion issued in the future (beyond the clock tolerance) is refused, as for
    // trusted issuers' tokens; oidc-provider itself checks iat only when there is no exp.
    assertJwtClientAuthClaimsAndHeader: (_ctx, claims) => {
      if (typeof claims.iat === 'number' && claims.iat > deps.clock.now() + deps.clockTolerance) {
        throw new errors.InvalidClientAuth('client assertion issued in the future')
      }
    },
    jwks: { keys: [new KeyRingSigningKey(ring)] },
    // Client scopes travel as our own metadata member (client-metadata.ts).
    extraClientMetadata: { properties: [CLIENT_SCOPES] },
    // No authorization endpoint is served yet (issue 12 brings it): no response type is offered.
    responseTypes: [],
    scopes: ['openid'],
    features: {
      ...UNUSED_ENDPOINTS_OFF,
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // RFC 9449: proofs at /token bind client_credentials tokens (the exchange verifies its own).
      dPoP: { enabled: true, nonceSecret: deps.dpopNonceSecret, requireNonce: () => deps.requireDpopNonce },
      externalSigningSupport: { enabled: true, ack: 'experimental-01' },
      introspection: { enabled: true, allowedPolicy: introspectionAllowed },
      revocation: { enabled: true, allowedPolicy: revocationAllowed },
      resourceIndicators: {
        enabled: true,
        // RFC 8707 §2: a token request without a resource is refused (invalid_target), never defaulted.
        defaultResource: () => {
          throw new errors.InvalidTarget(RESOURCE_INVALID)
        },
        useGrantedResource: () => false,
        getResourceServerInfo: resourceServerInfo,
      },
    },
    extraTokenClaims: (ctx, token) => {
      const policy = token.kind === 'ClientCredentials' ? clientCredentialsPolicies.get(ctx) : undefined
      return policy ? { ...token.extra, policy_path: policy.path, policy_version: policy.version } : token.extra
    },
    formats: {
      customizers: {
        jwt: persistingCustomizer({
          currentKid: () => ring.signingKey().kid,
          record: (row) => recordIssuedToken(db, row),
          onIssued: (row) => metrics.tokensIssued.inc({ grant_type: row.grant_type }),
          log,
        }),
      },
    },
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 300,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 300,
      Grant: 600,
      Interaction: 600,
      Session: 86400,
      IdToken: 300,
    },
    renderError: async (ctx, out) => {
      ctx.type = 'json'
      ctx.body = out
    },
  })

  // Client secrets are stored hashed; oidc-provider's constant-time comparison becomes a hash check.
  ;(
    provider.Client.prototype as unknown as { compareClientSecret(actual: string): Promise<boolean> }
  ).compareClientSecret = function compareClientSecret(this: Client, actual: string) {
    return typeof this.clientSecret === 'string' ? verifySecret(actual, this.clientSecret) : Promise.resolve(false)
  }
  answerUnauthorizedClient(provider)
  answerMissingClientAuth(provider)
  // RFC 7523 §3, RFC 9449 §11.1: one atomic claim per jti across processes (oidc-provider's own
  // ReplayDetection.unique is find-then-save, so concurrent requests could all pass).
  // oidc-provider claims a DPoP proof until now + 300 s whatever its iat, while a proof issued up to 300 s
  // ahead is still fresh until iat + 300 s: every claim is held one proof window longer, so none lapses
  // while its value could still be accepted (harmless for client assertions, which carry their own exp).
  provider.ReplayDetection.unique = (iss: string, jti: string, exp: number) =>
    failClosed(() => claimOnce(db, [iss], jti, toDate(exp + PROOF_WINDOW + 1), toDate(deps.clock.now())))
  for (const grant of [CLIENT_CREDENTIALS, ...deps.extraGrantTypes]) offeredGrants.add(grant)

  provider.use(serveDiscovery(offeredGrants))
  provider.use(serveJwks(ring))
  provider.use(jwtBridge(deps.verifyAccessToken))
  provider.on('server_error', (ctx, error) =>
    log.error({ err: error, req_id: ctx.state?.reqId }, 'oidc-provider server_error'),
  )

  async function resourceServerInfo(
    ctx: KoaContextWithOIDC,
    indicator: string,
    client: Client,
  ): Promise<ResourceServer> {
    const resource = await failClosed(() => findResourceByUri(db, indicator))
    if (!resource) throw new errors.InvalidTarget(RESOURCE_INVALID)
    const params = ctx.oidc.params ?? {}
    const clientCredentials = params.grant_type === CLIENT_CREDENTIALS
    const policy = clientCredentials
      ? await failClosed(() => loadEffectivePolicy(db, client.clientId, resource.uri, CLIENT_CREDENTIALS))
      : undefined
    if (policy) clientCredentialsPolicies.set(ctx, policy)
    const outcome = decideClientCredentials({
      requested: String(params.scope ?? '')
        .split(' ')
        .filter(Boolean),
      clientScopes: scopesOf(client),
      resource: { scopes: resource.scopes, accessTokenLifetime: resource.access_token_lifetime },
      policy,
      clientRequiresDpop: clientCredentials && requiresDpop(client),
      // oidc-provider verified any proof sent before resolving the resource: only its absence is left.
      proofPresented: Boolean(ctx.get('DPoP')),
      // oidc-provider merges a repeated identical resource into one, so count distinct values.
      oneResource: clientCredentials && new Set([params.resource].flat()).size === 1,
    })
    if (!outcome.ok && outcome.error === 'dpop_required') throw new errors.InvalidDpopProof('a DPoP proof is required')
    // No `scope` member in the body: the refused value is the caller's own input (no echo).
    if (!outcome.ok) throw new errors.InvalidScope(SCOPE_INVALID, undefined as unknown as string)
    // The grant reads the scope from the params (RFC 6749 §3.3 default).
    if (outcome.defaultScope) params.scope = outcome.defaultScope.join(' ')
    return {
      scope: resource.scopes.join(' '),
      audience: resource.uri,
      accessTokenTTL: outcome.lifetime,
      accessTokenFormat: 'jwt',
      jwt: { sign: { alg: SIGNING_ALG } },
    }
  }

  // RFC 7662 §4: only the resource's named introspectors (or an admin) learn anything about a token.
  async function introspectionAllowed(_ctx: KoaContextWithOIDC, caller: Client, token: object) {
    if (isAdmin(caller)) return true
    const { aud } = token as { aud?: string | string[] }
    const audiences = typeof aud === 'string' ? [aud] : (aud ?? [])
    const resources = await failClosed(() => Promise.all(audiences.map((uri) => findResourceByUri(db, uri))))
    return resources.some((resource) => resource?.introspectors.includes(caller.clientId))
  }

  return provider
}

// RFC 7009 §2.1: only the client the token was issued to may revoke it.
async function revocationAllowed(_ctx: KoaContextWithOIDC, caller: Client, token: object) {
  if ((token as { clientId?: string }).clientId !== caller.clientId)
    throw new errors.InvalidRequest('client is not authorized to revoke the presented token')
  return true
}

/** RFC 8414 §3: the OAuth metadata document; its members are the same as OpenID Discovery's. */
/**
 * RFC 8414 metadata at both well-known paths, advertising only the grants a client can be registered
 * for: oidc-provider always lists authorization_code, which no Client document can hold yet.
 */
function serveDiscovery(offeredGrants: ReadonlySet<string>) {
  return async function discovery(ctx: KoaContextWithOIDC, next: () => Promise<void>) {
    if (ctx.path === '/.well-known/oauth-authorization-server') ctx.path = '/.well-known/openid-configuration'
    await next()
    if (ctx.path === '/.well-known/openid-configuration' && ctx.status === 200 && ctx.body) {
      ;(ctx.body as Record<string, unknown>).grant_types_supported = [...offeredGrants]
      dropUnservedMetadata(ctx.body as Record<string, unknown>)
    }
  }
}

/** RFC 7517 JWK Set: every published key (pending, active, retained), not only the one that signs. */
function serveJwks(ring: KeyRing) {
  return async function jwks(ctx: KoaContextWithOIDC, next: () => Promise<void>) {
    if (ctx.path !== '/jwks' || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next()
    ctx.type = 'application/jwk-set+json; charset=utf-8'
    ctx.set('Cache-Control', `public, max-age=${JWKS_MAX_AGE}`)
    ctx.body = ring.jwks()
  }
}

/** oidc-provider cookie keys, derived from the master key so every process signs cookies alike. */
export function deriveCookieKeys(masterKeys: readonly Buffer[]): string[] {
  return masterKeys.map((key) => createHash('sha256').update('mandate cookie key').update(key).digest('base64url'))
}

export type { IssuedToken }
