// The oidc-provider configuration, in one place. Clients, resources and keys come from Postgres;
// every access token is an RFC 9068 JWT for exactly one RFC 8707 resource.
import type { Kysely } from 'kysely'
import Provider, { errors } from 'oidc-provider'
import { writeAudit } from '../audit/write.ts'
import type { CatalogSource } from '../catalog/source.ts'
import { CLIENT_ASSERTION_ALGORITHMS } from '../clients/authenticate.ts'
import type { DB } from '../db/schema.ts'
import { DPOP_ALGORITHMS } from '../dpop/proof.ts'
import type { KeyRing } from '../keys/ring.ts'
import { SIGNING_ALG } from '../keys/store.ts'
import type { OurAccessToken } from '../keys/verify-access-token.ts'
import type { Clock } from '../lib/clock.ts'
import { recordIssuedToken } from '../lineage/tokens.ts'
import { RESOURCE_INVALID } from '../oauth/descriptions.ts'
import { CLIENT_CREDENTIALS } from '../oauth/protocol.ts'
import type { Log } from '../observability/log.ts'
import type { Metrics } from '../observability/metrics.ts'
import { persistingCustomizer } from './access-token-format.ts'
import { adapterFactory, prefetchActiveToken } from './adapter.ts'
import { CLIENT_SCOPES, clientMetadata } from './client-metadata.ts'
import { UNUSED_ENDPOINTS_OFF } from './endpoints.ts'
import { jwtBridge } from './jwt-bridge.ts'
import { serveDiscovery, serveJwks } from './metadata.ts'
import { answerMissingClientAuth } from './missing-client-auth.ts'
import { atomicReplayDetection, hashedClientSecrets } from './patches.ts'
import { type DecidedPolicies, resourceServerInfo } from './resource-indicators.ts'
import { KeyRingSigningKey } from './signing-key.ts'
import { introspectionAllowed, revocationAllowed } from './token-access.ts'
import { answerUnauthorizedClient } from './unauthorized-client.ts'

export interface ProviderDeps {
  issuer: string
  db: Kysely<DB>
  /** Clients, resources and policies of the request's configuration generation. */
  catalog: CatalogSource
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
  const clientCredentialsPolicies: DecidedPolicies = new WeakMap()
  const offeredGrants = new Set<string>()

  const provider = new Provider(deps.issuer, {
    adapter: adapterFactory({
      db,
      catalog: deps.catalog,
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
      clientAuthSigningAlgValues: CLIENT_ASSERTION_ALGORITHMS,
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
    // No authorization endpoint is served: no response type is offered.
    responseTypes: [],
    scopes: ['openid'],
    features: {
      ...UNUSED_ENDPOINTS_OFF,
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // RFC 9449: proofs at /token bind client_credentials tokens (the exchange verifies its own).
      dPoP: { enabled: true, nonceSecret: deps.dpopNonceSecret, requireNonce: () => deps.requireDpopNonce },
      externalSigningSupport: { enabled: true, ack: 'experimental-01' },
      introspection: { enabled: true, allowedPolicy: introspectionAllowed(deps.catalog) },
      revocation: { enabled: true, allowedPolicy: revocationAllowed },
      resourceIndicators: {
        enabled: true,
        // RFC 8707 §2: a token request without a resource is refused (invalid_target), never defaulted.
        defaultResource: () => {
          throw new errors.InvalidTarget(RESOURCE_INVALID)
        },
        useGrantedResource: () => false,
        getResourceServerInfo: resourceServerInfo(deps.catalog, clientCredentialsPolicies),
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

  hashedClientSecrets(provider)
  answerUnauthorizedClient(provider)
  answerMissingClientAuth(provider)
  atomicReplayDetection(provider, { db, clock: deps.clock })
  for (const grant of [CLIENT_CREDENTIALS, ...deps.extraGrantTypes]) offeredGrants.add(grant)

  provider.use(serveDiscovery(offeredGrants))
  provider.use(serveJwks(ring))
  provider.use(
    jwtBridge(deps.verifyAccessToken, (ctx, jti) => prefetchActiveToken({ db, clock: deps.clock }, ctx, jti)),
  )
  provider.on('server_error', (ctx, error) =>
    log.error({ err: error, req_id: ctx.state?.reqId }, 'oidc-provider server_error'),
  )

  return provider
}
