// Composition root of the server: on the services every entry point shares (services.ts) it builds the
// listeners and the parts behind them, and wires them. It builds; it does not decide.
import Koa from 'koa'
import mount from 'koa-mount'
import type { Provider } from 'oidc-provider'
import { ADMIN_ROUTES, adminApp } from './admin/app.ts'
import { ensureAdminAccess } from './admin/bootstrap.ts'
import { CALLBACK_PATH, consoleClientSecret, ensureConsoleClient } from './admin/console-client.ts'
import { CONSOLE_ROUTES, consolePages } from './console/routes.ts'
import { TOKEN_EXCHANGE } from './oauth/protocol.ts'
import { catalogSource } from './catalog/source.ts'
import type { Config } from './config/schema.ts'
import type { Database } from './db/connect.ts'
import { groupCounts, observeGroupSizes } from './db/group.ts'
import { databaseNow } from './db/now.ts'
import type { DecisionRecord } from './decisions/store.ts'
import { boundedBody } from './http/bounded-body.ts'
import { countClientAuthFailures } from './http/client-auth-failures.ts'
import { jsonErrors } from './http/errors.ts'
import { rejectMalformed } from './http/malformed.ts'
import { noStore } from './http/no-store.ts'
import { observe } from './http/observe.ts'
import { pinOrigin } from './http/pin-origin.ts'
import { rateLimits } from './http/rate-limits.ts'
import { servedRoutes } from './http/routes.ts'
import type { KeyRing } from './keys/ring.ts'
import { ensureSigningKey, KEYS_CHANNEL } from './keys/store.ts'
import { verifyAccessToken } from './keys/verify-access-token.ts'
import { toDate } from './lib/clock.ts'
import { Janitor } from './janitor/janitor.ts'
import { ClockCheck } from './observability/clock-check.ts'
import { type Check, MANAGEMENT_ROUTES, managementApp } from './observability/health.ts'
import type { Log } from './observability/log.ts'
import { createMetrics, type Metrics } from './observability/metrics.ts'
import { checkReadiness } from './observability/readiness.ts'
import { dpopNonceSecret, dpopNonces } from './oidc/dpop-nonces.ts'
import { outboundFetch } from './outbound/fetch.ts'
import { OIDC_ROUTES } from './oidc/endpoints.ts'
import { deriveCookieKeys } from './oidc/cookie-keys.ts'
import { buildProvider } from './oidc/provider.ts'
import { serveStylesheet } from './pages/stylesheet.ts'
import { deriveCsrfKey } from './sign-in/csrf.ts'
import { SIGN_IN_ROUTES, signInPages } from './sign-in/routes.ts'
import { upstreamSignIn } from './sign-in/upstream.ts'
import { authenticatePassword } from './users/authenticate.ts'
import { validateText } from './manifests/validate.ts'
import { openServices, type ServicesOptions } from './services.ts'
import { TASKS_ROUTES, tasksApi } from './tasks-api/api.ts'
import { ACCESS_ROUTES, accessApi } from './access-api/api.ts'
import { KnownTokens } from './evaluation/known-tokens.ts'
import { enqueueTaskCompleted, WebhookDispatcher } from './tasks/webhooks.ts'
import { registerTokenExchange } from './token-exchange/grant.ts'
import { recordEarlyRefusals } from './token-exchange/refusals.ts'

export interface App {
  readonly issuer: string
  readonly public: Koa
  readonly admin: Koa
  readonly management: Koa
  readonly provider: Provider
  readonly database: Database
  readonly ring: KeyRing
  readonly log: Log
  readonly metrics: Metrics
  readiness(): Promise<Check[]>
  /** Flips readiness to DOWN (SIGTERM): load balancers stop sending before the listeners close. */
  beginShutdown(): void
  close(): Promise<void>
}

/** An already-open database (tests, `mandate serve`), a clock and a log; otherwise the services' own. */
export type AppOptions = Pick<ServicesOptions, 'clock' | 'log' | 'database'>

export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const services = await openServices(config, options)
  const { database, db, clock, log, keys, ring, issuer } = services
  const metrics = createMetrics()
  metrics.observeGroups(() => groupCounts(db))
  observeGroupSizes(db, (kind, size) => metrics.groupSize.observe({ kind }, size))
  const fetchOutbound = outboundFetch(config.outbound)

  await ensureSigningKey(db, keys, toDate(clock.now()))
  await ring.refresh()
  const refreshKeys = () => ring.refresh().catch((error) => log.warn({ err: error }, 'signing key refresh failed'))
  const keyListener = database.listen(KEYS_CHANNEL, refreshKeys)
  const keyTimer = setInterval(refreshKeys, config.keys.refreshInterval * 1000)
  keyTimer.unref()

  const verify = (token: string) =>
    verifyAccessToken(token, { ring, issuer, clock, clockTolerance: config.clockTolerance })
  const nonceSecret = dpopNonceSecret(keys)
  const dpop = { nonces: dpopNonces(nonceSecret), requireNonce: config.dpop.requireNonce }
  // The configuration in memory, per generation (src/catalog/): every request reads the generation once.
  const catalog = catalogSource(db)
  const tokenDeps = {
    db,
    catalog,
    findIssuer: async (iss: string) => (await catalog.current()).issuerByIss(iss),
    clock,
    ring,
    issuer,
    clockTolerance: config.clockTolerance,
    trustedTokenMaxLifetime: config.trustedTokenMaxLifetime,
    fetchOutbound,
  }
  const provider = buildProvider({
    issuer,
    db,
    catalog,
    ring,
    clock,
    clockTolerance: config.clockTolerance,
    cookieKeys: deriveCookieKeys(keys),
    log,
    metrics,
    verifyAccessToken: verify,
    extraGrantTypes: [TOKEN_EXCHANGE],
    dpopNonceSecret: nonceSecret,
    requireDpopNonce: config.dpop.requireNonce,
    sessionLifetime: config.signIn.sessionLifetime,
    refreshTokenLifetime: config.signIn.refreshTokenLifetime,
  })
  // Behind a TLS-terminating proxy the provider's own contexts (cookies marked Secure) must see https too.
  provider.proxy = config.http.trustedProxies > 0
  const onDecision = (record: DecisionRecord) =>
    metrics.tokenExchanges.inc({ result: record.result, reason: record.reason })
  registerTokenExchange(provider, { ...tokenDeps, dpop, onDecision, log })
  provider.use(recordEarlyRefusals({ db, clock, onDecision }))

  await ensureAdminAccess(db, { clock, bootstrapSecret: config.bootstrapAdminSecret })
  // The admin console signs people in at Mandate itself, as a client the server registers (docs/admin-console.md).
  const consoleUrl = config.adminConsole.url ?? `http://localhost:${config.adminPort}`
  const consoleSecret = consoleClientSecret(keys)
  await ensureConsoleClient(db, { clock, redirectUri: `${consoleUrl}${CALLBACK_PATH}`, secret: consoleSecret })
  const webhooks = new WebhookDispatcher({ db, clock, ring, issuer, log, fetchOutbound })
  webhooks.start()
  const clockCheck = new ClockCheck({
    clock,
    tolerance: config.clockTolerance,
    databaseNow: () => databaseNow(db),
    log,
    onSkew: (skew) => metrics.clockOffset.set(skew.offset),
  })
  await clockCheck.run()
  clockCheck.start()
  const janitor = new Janitor({
    db,
    clock,
    settings: config.janitor,
    clockTolerance: config.clockTolerance,
    log,
    onRun: (result) => {
      metrics.janitorRuns.inc({ outcome: result.outcome })
      for (const [table, count] of Object.entries(result.pruned)) if (count) metrics.janitorPruned.inc({ table }, count)
    },
  })
  janitor.start()

  const publicApp = new Koa()
  // Mounted, oidc-provider's cookies are this app's context's: they are signed with the provider's keys.
  publicApp.keys = provider.keys
  // X-Forwarded-For is believed only from the configured proxies: ctx.ip is the entry the outermost adds.
  publicApp.proxy = config.http.trustedProxies > 0
  publicApp.maxIpsCount = config.http.trustedProxies
  publicApp.use(
    observe('public', { log, metrics, route: (ctx) => (ctx as { oidc?: { route?: string } }).oidc?.route ?? 'other' }),
  )
  publicApp.use(noStore)
  publicApp.use(jsonErrors(log))
  // Unknown routes are answered before a body is read: a slow body to nowhere costs no wait.
  publicApp.use(servedRoutes([...OIDC_ROUTES, ...SIGN_IN_ROUTES, ...TASKS_ROUTES, ...ACCESS_ROUTES]))
  publicApp.use(boundedBody(config.http))
  // One request, one read of the configuration generation (src/catalog/), begun once a POST's body is in:
  // begun earlier, a body trickled in for up to bodyTimeout would be decided on a configuration that a
  // narrowing change had replaced (and returned) meanwhile.
  publicApp.use(catalog.scope)
  publicApp.use(rejectMalformed)
  publicApp.use(countClientAuthFailures({ metrics, log }))
  publicApp.use(rateLimits({ limits: config.rateLimits, metrics }))
  publicApp.use(pinOrigin(issuer))
  publicApp.use(
    tasksApi({
      ...tokenDeps,
      dpop,
      log,
      enqueueCompleted: (trx, task, outcome, jtis) =>
        enqueueTaskCompleted(trx, { clock, ring, issuer }, task, outcome, jtis),
      afterCompleted: () => webhooks.kick(),
      fetchOutbound,
      replayUnique: (iss, jti, exp) => provider.ReplayDetection.unique(iss, jti, exp),
    }),
  )
  publicApp.use(
    accessApi({
      ...tokenDeps,
      dpop,
      log,
      approvalLifetime: config.approvalLifetime,
      afterApprovalRequested: () => webhooks.kick(),
      knownTokens: new KnownTokens(),
      replayUnique: (iss, jti, exp) => provider.ReplayDetection.unique(iss, jti, exp),
    }),
  )
  publicApp.use(serveStylesheet)
  publicApp.use(
    signInPages({
      provider,
      db,
      catalog,
      clock,
      log,
      issuer,
      csrfKey: deriveCsrfKey(keys),
      limits: {
        perUsername: config.signIn.failuresPerUsername,
        perAddress: config.signIn.failuresPerAddress,
        window: config.signIn.failureWindow,
      },
      authenticate: authenticatePassword,
      upstream: upstreamSignIn({ db, catalog, clock, issuer, clockTolerance: config.clockTolerance, fetchOutbound }),
    }),
  )
  publicApp.use(mount('/', provider))

  let shuttingDown = false
  const readiness = () => checkReadiness({ database, clockCheck, ring, keyListener, shuttingDown })

  const management = new Koa()
  management.use(observe('management', { log, metrics, route: (ctx) => ctx.path }))
  management.use(jsonErrors(log))
  // Each listener's route guard comes first: unknown routes are answered before a body is read.
  management.use(servedRoutes(MANAGEMENT_ROUTES))
  management.use(boundedBody(config.http))
  management.use(mount('/', managementApp({ metrics, readiness })))

  const admin = new Koa()
  admin.use(observe('admin', { log, metrics, route: () => 'admin' }))
  admin.use(jsonErrors(log))
  admin.use(catalog.scope)
  admin.use(servedRoutes([...ADMIN_ROUTES, ...CONSOLE_ROUTES]))
  admin.use(boundedBody(config.http))
  admin.use(rejectMalformed)
  admin.use(
    consolePages({
      db,
      catalog,
      clock,
      log,
      url: consoleUrl,
      sessionLifetime: config.adminConsole.sessionLifetime,
      csrfKey: deriveCsrfKey(keys),
      rp: {
        issuer,
        redirectUri: `${consoleUrl}${CALLBACK_PATH}`,
        secret: consoleSecret,
        verificationKey: (kid) => ring.verificationKey(kid),
        now: () => clock.now(),
        clockTolerance: config.clockTolerance,
      },
      validateDocuments: (text) => validateText(db, text, 'document', config.outbound),
    }),
  )
  admin.use(
    mount(
      '/',
      adminApp({
        db,
        catalog,
        clock,
        verifyAccessToken: verify,
        dpop,
        validateDocuments: (text) => validateText(db, text, 'request', config.outbound),
        issuer,
      }),
    ),
  )

  return {
    issuer,
    public: publicApp,
    admin,
    management,
    provider,
    database,
    ring,
    log,
    metrics,
    readiness,
    beginShutdown: () => {
      shuttingDown = true
    },
    async close() {
      clearInterval(keyTimer)
      clockCheck.stop()
      await Promise.all([webhooks.stop(), janitor.stop()])
      await keyListener.close()
      await services.close()
    },
  }
}
