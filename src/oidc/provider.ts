// The oidc-provider configuration, in one place. Clients, resources and keys come from Postgres;
// every access token is an RFC 9068 JWT for exactly one RFC 8707 resource.
import type { Kysely } from 'kysely'
import Provider, { errors, type KoaContextWithOIDC } from 'oidc-provider'
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
import { AUTHORIZATION_CODE, CLIENT_CREDENTIALS, REFRESH_TOKEN } from '../oauth/protocol.ts'
import type { Log } from '../observability/log.ts'
import type { Metrics } from '../observability/metrics.ts'
import { persistingCustomizer } from './access-token-format.ts'
import { adapterFactory, prefetchActiveToken } from './adapter.ts'
import { findAccount, OIDC_CLAIMS, OIDC_SCOPES } from './account.ts'
import { CLIENT_AGENT, CLIENT_DESCRIPTION, CLIENT_SCOPES, clientMetadata, isAgentApp } from './client-metadata.ts'
import { cookieOptions } from './cookies.ts'
import { ENDPOINTS } from './endpoints.ts'
import { renderProviderError } from './error-page.ts'
import { giveBackOnRefusal } from './give-back.ts'
import { logoutPage, signedOutPage } from './logout-pages.ts'
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
  /** Sessions and grants (config signIn): seconds. */
  sessionLifetime: number
  refreshTokenLifetime: number
}

export function buildProvider(deps: ProviderDeps): Provider {
  const { db, ring, log, metrics } = deps
  // The policy path a token request was decided under, for its token's claims.
  const decidedPolicies: DecidedPolicies = new WeakMap()
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
      onGrantRevoked: async (grantId, rows) => {
        metrics.tokensRevoked.inc({ cause: 'grant' }, rows.length)
        // A code or refresh token used twice, a logout or a revoked refresh token: the grant's whole family.
        await writeAudit(db, {
          type: 'grant.revoked',
          at: deps.clock.now(),
          actor: rows[0]?.client_id ?? null,
          requestId: (Provider.ctx?.state?.reqId as string | undefined) ?? null,
          subject: rows[0]?.sub ?? null,
          taskId: null,
          jti: null,
          data: { grant_id: grantId, jtis: rows.map((row) => row.jti) },
        })
      },
      recordOpaque: (row) => recordIssuedToken(db, row),
      userinfoAudience: `${deps.issuer}${ENDPOINTS.userinfo}`,
      currentKid: () => ring.signingKey().kid,
    }),
    findAccount: findAccount(db),
    claims: OIDC_CLAIMS,
    scopes: OIDC_SCOPES,
    // OAuth 2.1 §4.1.1 / RFC 9700 §2.1.1: PKCE for every client, public or confidential; S256 only.
    pkce: { required: () => true },
    // RFC 9700 §4.14.2: a refresh token is used once; a reuse revokes its grant (adapter.ts usedOnceAdapter).
    rotateRefreshToken: true,
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    routes: ENDPOINTS,
    // 'none': public clients (RFC 6749 §2.1), limited to authorization_code with PKCE by the Client schema.
    clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    clientDefaults: {
      grant_types: [],
      response_types: [],
      id_token_signed_response_alg: SIGNING_ALG,
      token_endpoint_auth_method: 'client_secret_basic',
    },
    clockTolerance: deps.clockTolerance,
    cookies: cookieOptions(deps.issuer, deps.cookieKeys),
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
    // Client scopes, the agent flag and the description travel as our own metadata members (client-metadata.ts).
    extraClientMetadata: { properties: [CLIENT_SCOPES, CLIENT_AGENT, CLIENT_DESCRIPTION] },
    // RFC 6749 §4.1 is the only response type: no implicit or hybrid flows (OAuth 2.1).
    responseTypes: ['code'],
    features: {
      // Our own pages replace oidc-provider's development interactions (src/sign-in/).
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
      // RFC 9126: accepted, not required.
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: false },
      rpInitiatedLogout: { enabled: true, logoutSource: logoutPage, postLogoutSuccessSource: signedOutPage },
      clientCredentials: { enabled: true },
      // RFC 9449: proofs at /token bind client_credentials tokens (the exchange verifies its own).
      dPoP: { enabled: true, nonceSecret: deps.dpopNonceSecret, requireNonce: () => deps.requireDpopNonce },
      externalSigningSupport: { enabled: true, ack: 'experimental-01' },
      introspection: { enabled: true, allowedPolicy: introspectionAllowed(deps.catalog) },
      revocation: { enabled: true, allowedPolicy: revocationAllowed },
      resourceIndicators: {
        enabled: true,
        // RFC 8707 §2: a client_credentials request without a resource is refused (invalid_target), never
        // defaulted. A person's grant without one gets no resource token: only ID and userinfo tokens.
        defaultResource: (ctx) => {
          if (ctx.oidc.params?.grant_type === CLIENT_CREDENTIALS) throw new errors.InvalidTarget(RESOURCE_INVALID)
          return undefined
        },
        // RFC 8707 §2.2: a code or refresh token for one resource yields its token without naming it again.
        useGrantedResource: () => true,
        getResourceServerInfo: resourceServerInfo(deps.catalog, decidedPolicies),
      },
    },
    extraTokenClaims: (ctx, token) => {
      const policy = decidedPolicies.get(ctx)
      const claims: Record<string, unknown> = { ...token.extra }
      if (policy) Object.assign(claims, { policy_path: policy.path, policy_version: policy.version })
      // RFC 8693 §4.4: a person's token at an agent app names it as the only party that may act for them.
      // Only the person's own grant: tokens our exchange mints for the agent carry the chain in act instead.
      const client = ctx.oidc.client
      const personGrant = /(^| )(authorization_code|refresh_token)$/.test(String((token as { gty?: string }).gty ?? ''))
      if (token.kind === 'AccessToken' && personGrant && client && isAgentApp(client))
        claims.may_act = { sub: client.clientId, iss: deps.issuer }
      return claims
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
      // RFC 6749 §4.1.2: a code lives briefly (and is used once).
      AuthorizationCode: 60,
      // Rotated on each use; every rotation ends when the grant's first refresh token would have.
      RefreshToken: (_ctx, token) => refreshTtl(token, deps.refreshTokenLifetime, deps.clock.now()),
      Grant: deps.refreshTokenLifetime,
      Interaction: 600,
      Session: deps.sessionLifetime,
      IdToken: 300,
    },
    // Errors a browser is shown (authorization, logout) are a page; every other one stays JSON.
    renderError: renderProviderError,
  })

  hashedClientSecrets(provider)
  answerUnauthorizedClient(provider)
  answerMissingClientAuth(provider)
  atomicReplayDetection(provider, { db, clock: deps.clock })
  for (const grant of [CLIENT_CREDENTIALS, AUTHORIZATION_CODE, REFRESH_TOKEN, ...deps.extraGrantTypes])
    offeredGrants.add(grant)

  provider.use(serveDiscovery(offeredGrants))
  provider.use(serveJwks(ring))
  provider.use(
    jwtBridge(deps.verifyAccessToken, (ctx, jti) => prefetchActiveToken({ db, clock: deps.clock }, ctx, jti)),
  )
  provider.use(giveBackOnRefusal(db))
  // Why a grant or an authorization was refused: the answer says little on purpose (RFC 6749 §5.2), the log says why.
  const refused = (event: string) => (ctx: KoaContextWithOIDC, error: Error) =>
    log.debug(
      { err: error, detail: (error as { error_detail?: string }).error_detail, req_id: ctx.state?.reqId },
      event,
    )
  provider.on('grant.error', refused('grant.error'))
  provider.on('authorization.error', refused('authorization.error'))
  provider.on('end_session.error', refused('end_session.error'))
  provider.on('server_error', (ctx, error) =>
    log.error({ err: error, req_id: ctx.state?.reqId }, 'oidc-provider server_error'),
  )

  return provider
}

/** Seconds left for a rotated refresh token: until the grant's first one would have expired. */
function refreshTtl(
  token: { iiat?: number | undefined; iat?: number | undefined },
  lifetime: number,
  now: number,
): number {
  const firstIssued = token.iiat ?? token.iat ?? now
  return Math.max(1, firstIssued + lifetime - now)
}
