// The interaction pages oidc-provider sends a person to (src/oidc/provider.ts interactions.url): sign in
// with a password or at an upstream provider, then consent. Each answer either re-renders the page or
// hands oidc-provider the result and redirects back to it (303), which then redirects to the client.
import type { Context, Next } from 'koa'
import type { Kysely } from 'kysely'
import type { InteractionResults, Provider } from 'oidc-provider'
import { writeAudit } from '../audit/write.ts'
import type { CatalogSource } from '../catalog/source.ts'
import { DependencyUnavailable } from '../db/outage.ts'
import type { DB } from '../db/schema.ts'
import { bodyParams } from '../http/body-params.ts'
import type { Route } from '../http/routes.ts'
import { type Clock, toDate } from '../lib/clock.ts'
import type { Log } from '../observability/log.ts'
import { displayNameOf, isAgentApp } from '../oidc/client-metadata.ts'
import { setPageHeaders } from '../pages/headers.ts'
import { html, page, STYLESHEET_PATH } from '../pages/html.ts'
import type { authenticatePassword } from '../users/authenticate.ts'
import { MAX_PASSWORD_LENGTH } from '../users/password.ts'
import { type ConsentDetails, consentView } from './consent.ts'
import { csrfToken, csrfValid, fromOwnOrigin } from './csrf.ts'
import { type FailureLimits, refundAttempt, reserveAttempt } from './failures.ts'
import { consentPage, loginPage } from './pages.ts'

const UID = '[A-Za-z0-9_-]{1,64}'

export const SIGN_IN_ROUTES: readonly Route[] = [
  { path: new RegExp(`^/interaction/${UID}$`, 'i'), methods: ['GET'] },
  { path: new RegExp(`^/interaction/${UID}/(login|consent)$`, 'i'), methods: ['POST'] },
  { path: new RegExp(`^/interaction/${UID}/upstream/[a-z0-9-]{1,63}$`, 'i'), methods: ['GET'] },
  { path: '/login/callback', methods: ['GET'] },
  { path: new RegExp(`^/interaction/${UID}/callback$`, 'i'), methods: ['GET'] },
  { path: STYLESHEET_PATH, methods: ['GET'] },
]

/** Upstream sign-in (src/upstream/), when an Issuer document has `login`. */
export interface UpstreamSignIn {
  /** Issuers people may sign in at, for the login page. */
  issuers(): Promise<Array<{ name: string; label: string }>>
  /** The provider's authorization URL for this interaction; undefined for an unknown issuer. */
  start(issuerName: string, interactionUid: string): Promise<URL | undefined>
  /** The interaction a callback's state was issued for (the state is not spent). */
  interactionOf(state: string): Promise<string | undefined>
  /** Spends the state, if it was issued for this interaction, and signs the person in upstream. */
  finish(
    callbackUrl: URL,
    interactionUid: string,
  ): Promise<
    { ok: true; interactionUid: string; username: string } | { ok: false; interactionUid?: string; reason: string }
  >
}

export interface SignInDeps {
  provider: Provider
  db: Kysely<DB>
  catalog: CatalogSource
  clock: Clock
  log: Log
  issuer: string
  csrfKey: Buffer
  limits: FailureLimits
  authenticate: typeof authenticatePassword
  upstream: UpstreamSignIn
}

const INCORRECT = 'The username or password is incorrect.'
const EXPIRED = 'This sign-in has expired or was already completed. Go back to the app and start again.'
const REFUSED_FORM = 'This form could not be accepted. Go back to the app and start again.'
const UPSTREAM_FAILED = 'Signing in with your company account did not work. Try again, or sign in with a password.'

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>

export function signInPages(deps: SignInDeps) {
  const issuerOrigin = new URL(deps.issuer).origin
  const path = new RegExp(`^/interaction/(${UID})(?:/(login|consent|callback|upstream)(?:/([a-z0-9-]{1,63}))?)?$`)

  return async function signIn(ctx: Context, next: Next): Promise<void> {
    if (ctx.path === '/login/callback' && ctx.method === 'GET') return upstreamCallback(ctx)
    const match = path.exec(ctx.path)
    if (!match) return next()
    const [, uid = '', action, issuerName] = match
    const interaction = await currentInteraction(ctx, uid)
    if (!interaction) return message(ctx, 400, 'Sign-in expired', EXPIRED)

    if (ctx.method === 'GET' && action === undefined) return show(ctx, interaction)
    if (ctx.method === 'GET' && action === 'callback' && !issuerName) return upstreamReturn(ctx, interaction)
    if (ctx.method === 'GET' && action === 'upstream' && issuerName) {
      if (interaction.prompt.name !== 'login') return message(ctx, 400, 'Sign-in expired', EXPIRED)
      let to: URL | undefined
      try {
        to = await deps.upstream.start(issuerName, interaction.uid)
      } catch (error) {
        // The provider cannot be reached (its metadata): the person may still sign in with a password.
        if (!(error instanceof DependencyUnavailable)) throw error
        deps.log.warn({ err: error, issuer: issuerName, req_id: ctx.state.reqId }, 'upstream sign-in unavailable')
        await show(ctx, interaction, UPSTREAM_FAILED)
        ctx.status = 503
        return
      }
      if (!to) return message(ctx, 404, 'Unknown provider', 'No such sign-in provider.')
      ctx.status = 303
      ctx.redirect(to.href)
      return
    }
    if (ctx.method !== 'POST') return next()
    const { params } = bodyParams(ctx)
    const ownOrigin = fromOwnOrigin({ fetchSite: ctx.get('Sec-Fetch-Site'), origin: ctx.get('Origin') }, issuerOrigin)
    if (!ownOrigin || !csrfValid(deps.csrfKey, interaction.uid, params.csrf))
      return message(ctx, 403, 'Form refused', REFUSED_FORM)
    if (action === 'login' && interaction.prompt.name === 'login') return login(ctx, interaction, params)
    if (action === 'consent' && interaction.prompt.name === 'consent') return consent(ctx, interaction, params)
    return message(ctx, 400, 'Sign-in expired', EXPIRED)
  }

  /** The interaction of this browser (its signed cookie), and only if it is the one the URL names. */
  async function currentInteraction(ctx: Context, uid: string): Promise<Interaction | undefined> {
    try {
      const interaction = await deps.provider.interactionDetails(ctx.req, ctx.res)
      return interaction.uid === uid ? interaction : undefined
    } catch (error) {
      if ((error as { name?: string }).name === 'SessionNotFound') return undefined
      throw error
    }
  }

  async function appOf(interaction: Interaction) {
    const client = await deps.provider.Client.find(String(interaction.params.client_id))
    return client
      ? { clientId: client.clientId, name: displayNameOf(client), agent: isAgentApp(client) }
      : { clientId: String(interaction.params.client_id), name: String(interaction.params.client_id), agent: false }
  }

  async function show(ctx: Context, interaction: Interaction, error?: string, username?: string): Promise<void> {
    const app = await appOf(interaction)
    const csrf = csrfToken(deps.csrfKey, interaction.uid)
    setPageHeaders(ctx)
    if (interaction.prompt.name === 'consent') {
      const view = consentView(await deps.catalog.current(), app, interaction.prompt.details as ConsentDetails)
      ctx.body = consentPage(view, { uid: interaction.uid, csrf, username: interaction.session?.accountId ?? '' })
      return
    }
    ctx.body = loginPage({
      uid: interaction.uid,
      csrf,
      app: app.name,
      ...(username ? { username } : {}),
      ...(error ? { error } : {}),
      upstream: await deps.upstream.issuers(),
    })
  }

  async function login(ctx: Context, interaction: Interaction, params: Record<string, unknown>): Promise<void> {
    const username = typeof params.username === 'string' ? params.username.trim().toLowerCase().slice(0, 256) : ''
    const password = typeof params.password === 'string' ? params.password : ''
    const who = { username, address: ctx.ip }
    const reserved = await reserveAttempt(deps.db, deps.limits, who, toDate(deps.clock.now()))
    if (!reserved.ok) {
      ctx.set('Retry-After', String(reserved.retryAfter))
      await show(ctx, interaction, tooMany(reserved.retryAfter), username)
      ctx.status = 429
      return
    }
    // A password longer than any we hash is wrong, after the same work as any other wrong one (never cut short).
    const tooLong = password.length > MAX_PASSWORD_LENGTH
    const outcome = await deps.authenticate(deps.db, tooLong ? '' : username, tooLong ? '' : password)
    if (!outcome.ok) {
      await audit(ctx, 'user.sign_in_failed', username, { client_id: interaction.params.client_id })
      return show(ctx, interaction, INCORRECT, username)
    }
    await refundAttempt(deps.db, deps.limits, who)
    await audit(ctx, 'user.signed_in', outcome.user.username, { client_id: interaction.params.client_id, amr: ['pwd'] })
    return finish(ctx, { login: { accountId: outcome.user.username, amr: ['pwd'] } })
  }

  async function consent(ctx: Context, interaction: Interaction, params: Record<string, unknown>): Promise<void> {
    if (params.decision !== 'allow') {
      // RFC 6749 §4.1.2.1: the resource owner denied the request.
      return finish(ctx, { error: 'access_denied', error_description: 'the person denied the request' })
    }
    const { Grant } = deps.provider
    const accountId = interaction.session?.accountId
    if (!accountId) return message(ctx, 400, 'Sign-in expired', EXPIRED)
    const grant =
      (interaction.grantId ? await Grant.find(interaction.grantId) : undefined) ??
      new Grant({ accountId, clientId: String(interaction.params.client_id) })
    const details = interaction.prompt.details as ConsentDetails & { missingOIDCClaims?: string[] }
    if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '))
    if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims)
    for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {}))
      grant.addResourceScope(indicator, scopes.join(' '))
    const grantId = await grant.save()
    return finish(ctx, { consent: { grantId } })
  }

  async function finish(ctx: Context, result: InteractionResults): Promise<void> {
    const to = await deps.provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false })
    ctx.status = 303
    ctx.redirect(to)
  }

  /**
   * The provider's redirect back (the one redirect URI registered there). oidc-provider scopes the
   * interaction cookie to /interaction/<uid>, so a browser sends it there and nowhere else: the callback
   * moves on to that path, query and all, before any state is spent or anyone signed in.
   */
  async function upstreamCallback(ctx: Context): Promise<void> {
    const state = new URLSearchParams(ctx.querystring).get('state')
    const uid = state ? await deps.upstream.interactionOf(state) : undefined
    if (!uid) {
      const reason = state ? 'state_unknown' : 'state_missing'
      deps.log.warn({ reason, req_id: ctx.state.reqId }, 'upstream sign-in failed')
      return message(ctx, 400, 'Sign-in failed', UPSTREAM_FAILED)
    }
    ctx.status = 303
    ctx.redirect(`/interaction/${uid}/callback?${ctx.querystring}`)
  }

  /** The callback at the interaction's own path: this browser's interaction, and only its own state. */
  async function upstreamReturn(ctx: Context, interaction: Interaction): Promise<void> {
    if (interaction.prompt.name !== 'login') return message(ctx, 400, 'Sign-in expired', EXPIRED)
    const outcome = await deps.upstream.finish(new URL(ctx.originalUrl, deps.issuer), interaction.uid)
    if (!outcome.ok) {
      deps.log.warn({ reason: outcome.reason, req_id: ctx.state.reqId }, 'upstream sign-in failed')
      return show(ctx, interaction, UPSTREAM_FAILED)
    }
    await audit(ctx, 'user.signed_in', outcome.username, { client_id: interaction.params.client_id, amr: ['fed'] })
    return finish(ctx, { login: { accountId: outcome.username, amr: ['fed'] } })
  }

  function audit(ctx: Context, type: 'user.signed_in' | 'user.sign_in_failed', username: string, data: object) {
    return writeAudit(deps.db, {
      type,
      at: deps.clock.now(),
      actor: username,
      requestId: (ctx.state.reqId as string | undefined) ?? null,
      subject: username,
      data: { ...data },
    })
  }
}

function tooMany(seconds: number): string {
  const minutes = Math.ceil(seconds / 60)
  return `Too many failed sign-ins. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`
}

function message(ctx: Context, status: number, title: string, text: string): void {
  setPageHeaders(ctx)
  ctx.status = status
  ctx.body = page(title, html`<h1>${title}</h1><p class="error" role="alert">${text}</p>`)
}
