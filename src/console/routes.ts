// The admin console (issue 13, docs/admin-console.md): server-rendered pages on the admin port under
// /admin/, for people holding the mandate:admin role. They sign in at Mandate itself (oidc-client.ts);
// every request reads their session and their role as they are now, every form post carries the
// session's CSRF token and comes from the console's own origin, and each page is sent with the
// no-script CSP of src/pages. Pages call the admin API's own functions, never the API over HTTP.
import type { Context, Next } from 'koa'
import type { Kysely } from 'kysely'
import { writeAudit } from '../audit/write.ts'
import type { CatalogSource } from '../catalog/source.ts'
import { isOutage } from '../db/outage.ts'
import type { DB } from '../db/schema.ts'
import { bodyParams } from '../http/body-params.ts'
import { type Route, routePath } from '../http/routes.ts'
import { type Clock, toDate } from '../lib/clock.ts'
import type { Log } from '../observability/log.ts'
import { setPageHeaders } from '../pages/headers.ts'
import { html } from '../pages/html.ts'
import { fromOwnOrigin } from '../sign-in/csrf.ts'
import { ADMIN_ROLE } from '../users/schema.ts'
import { consolePage, type Frame, notice } from './layout.ts'
import { type ConsoleRelyingParty, newSignIn, redeemCode } from './oidc-client.ts'
import { policyRoutes } from './policy-routes.ts'
import type { ConsoleFinding } from './policy-views.ts'
import { simulateRoutes } from './simulate-routes.ts'
import { serveConsoleStylesheet } from './stylesheet.ts'
import { cookieNames, consoleCsrf, consoleCsrfValid, readCookie, setCookie } from './session.ts'
import {
  createSession,
  endSession,
  findPerson,
  findSession,
  hashOf,
  newCookieValue,
  pruneExpired,
  type SessionUser,
  saveSignIn,
  takeSignIn,
} from './store.ts'
import { viewRoutes } from './view-routes.ts'

export interface ConsoleDeps {
  db: Kysely<DB>
  catalog: CatalogSource
  clock: Clock
  log: Pick<Log, 'warn'>
  /** The console's external URL (its origin): the redirect URI's base and the origin its forms come from. */
  url: string
  sessionLifetime: number
  csrfKey: Buffer
  rp: ConsoleRelyingParty
  /** Documents validated, nothing written (manifests/validate.ts, wired by the composition root). */
  validateDocuments(text: string): Promise<ConsoleFinding[]>
}

/** The console's pages, for the admin port's route guard (it matches lowercased paths). */
export const CONSOLE_ROUTES: readonly Route[] = [
  { path: '/admin', methods: ['GET'] },
  { path: '/admin/console.css', methods: ['GET'] },
  { path: '/admin/login', methods: ['GET'] },
  { path: '/admin/callback', methods: ['GET'] },
  { path: '/admin/logout', methods: ['POST'] },
  {
    path: /^\/admin\/(policy-paths|policy-path|policy-path\/diff|decisions|approvals|audit|task|clients|resources)$/,
    methods: ['GET'],
  },
  { path: /^\/admin\/(policy-path\/edit|policy-path\/rollback|simulate)$/, methods: ['GET', 'POST'] },
]

const SIGN_IN_LIFETIME = 600

/** Who is signed in at this request: their name, their session's key and their forms' token. */
export interface Person {
  username: string
  idHash: string
  frame: Frame & { who: { username: string; csrf: string } }
}

export type PageHandler = (ctx: Context, person: Person, params: Record<string, unknown>) => Promise<void>

export function consolePages(deps: ConsoleDeps) {
  const secure = deps.url.startsWith('https:')
  const names = cookieNames({ secure })
  const origin = new URL(deps.url).origin
  const handlers: Record<string, PageHandler> = { ...policyRoutes(deps), ...viewRoutes(deps), ...simulateRoutes(deps) }
  const now = () => toDate(deps.clock.now())

  return async function consoleRoutes(ctx: Context, next: Next): Promise<void> {
    const path = routePath(ctx.path)
    if (path !== '/admin' && (!path.startsWith('/admin/') || path.startsWith('/admin/v1/'))) return next()
    try {
      await serve(ctx, path)
    } catch (error) {
      // An outage fails closed as everywhere (503), on a page a person can read; anything else is a bug.
      if (!isOutage(error)) throw error
      deps.log.warn({ err: error, req_id: ctx.state.reqId }, 'admin console: database unavailable')
      ctx.set('Retry-After', '5')
      message(ctx, 503, 'Unavailable', 'Mandate cannot reach its database. Nothing was changed: try again in a moment.')
    }
  }

  async function serve(ctx: Context, path: string): Promise<void> {
    if (path === '/admin/console.css') return serveConsoleStylesheet(ctx)
    if (path === '/admin/login') return startSignIn(ctx)
    if (path === '/admin/callback') return finishSignIn(ctx)

    const cookie = readCookie(ctx, names.session)
    const idHash = cookie ? hashOf(cookie) : undefined
    const user = idHash ? await findSession(deps.db, idHash, now()) : undefined
    if (!user || !idHash) {
      // A session that ended (signed out, expired, its person disabled or without the role): its cookie goes too.
      if (cookie) setCookie(ctx, { secure }, names.session, '', 0)
      if (ctx.method === 'GET' || ctx.method === 'HEAD') return redirect(ctx, '/admin/login')
      return message(ctx, 401, 'Signed out', html`Your session has ended. <a href="/admin/login">Sign in again</a>.`)
    }
    // The role is read now: taking it away (or disabling the person) ends the session at this request.
    if (!mayAdminister(user)) {
      await endSession(deps.db, idHash)
      setCookie(ctx, { secure }, names.session, '', 0)
      return notAdmin(ctx, user.username)
    }
    const person: Person = {
      username: user.username,
      idHash,
      frame: { who: { username: user.username, csrf: consoleCsrf(deps.csrfKey, idHash) } },
    }
    let params: Record<string, unknown> = {}
    if (ctx.method === 'POST') {
      params = bodyParams(ctx).params
      // A form from another site, or without this session's token, is refused before anything is read or written.
      const ownOrigin = fromOwnOrigin({ fetchSite: ctx.get('Sec-Fetch-Site'), origin: ctx.get('Origin') }, origin)
      if (!ownOrigin || !consoleCsrfValid(deps.csrfKey, idHash, params.csrf))
        return message(ctx, 403, 'Form refused', 'This form could not be accepted. Reload the page and try again.')
    }
    if (path === '/admin/logout') return signOut(ctx, person)
    if (path === '/admin') return redirect(ctx, '/admin/policy-paths')
    const handler = handlers[`${ctx.method === 'HEAD' ? 'GET' : ctx.method} ${path}`]
    if (!handler) return message(ctx, 404, 'Not found', 'No such page.', person.frame)
    setPageHeaders(ctx)
    await handler(ctx, person, params)
  }

  async function startSignIn(ctx: Context): Promise<void> {
    await pruneExpired(deps.db, now())
    const { url, pending } = newSignIn(deps.rp)
    const cookie = newCookieValue()
    await saveSignIn(deps.db, cookie.idHash, pending, new Date(now().getTime() + SIGN_IN_LIFETIME * 1000))
    setCookie(ctx, { secure }, names.signIn, cookie.value, SIGN_IN_LIFETIME)
    redirect(ctx, url.href)
  }

  /** OpenID Connect Core §3.1.2.5: the answer to this browser's own request (its cookie and state), once. */
  async function finishSignIn(ctx: Context): Promise<void> {
    const cookie = readCookie(ctx, names.signIn)
    const pending = cookie ? await takeSignIn(deps.db, hashOf(cookie), now()) : undefined
    setCookie(ctx, { secure }, names.signIn, '', 0)
    const again = html`<a href="/admin/login">Sign in again</a>.`
    const { state, code, error, iss } = ctx.query
    // Its cookie is the configured URL's: a sign-in begun at another address of the admin port comes back without it.
    if (!pending || typeof state !== 'string' || state !== pending.state)
      return message(
        ctx,
        400,
        'Sign-in expired',
        html`This sign-in has expired or was already completed, or was started at another address than <a href="${deps.url}/admin/">${deps.url}/admin/</a>. ${again}`,
      )
    // RFC 9207 §2.4: Mandate always sends iss (authorization_response_iss_parameter_supported), so an answer
    // without it, or naming another issuer, is not Mandate's.
    if (typeof error === 'string' || typeof code !== 'string' || iss !== deps.rp.issuer)
      return message(ctx, 400, 'Sign-in did not complete', html`Mandate did not sign you in. ${again}`)
    let redeemed: Awaited<ReturnType<typeof redeemCode>>
    try {
      redeemed = await redeemCode(deps.rp, code, pending)
    } catch (error) {
      // fetch's network failure or our timeout: the console calls the issuer URL, which must be reachable from
      // here. Fail closed and say so; anything else is a bug and stays one.
      if (!(error instanceof TypeError) && (error as Error).name !== 'TimeoutError') throw error
      deps.log.warn({ err: error, req_id: ctx.state.reqId }, 'admin console: token endpoint unreachable')
      return message(ctx, 503, 'Sign-in unavailable', html`Mandate's token endpoint cannot be reached. ${again}`)
    }
    if (!redeemed.ok) {
      deps.log.warn({ reason: redeemed.reason, req_id: ctx.state.reqId }, 'admin console sign-in failed')
      return message(ctx, 400, 'Sign-in failed', html`Signing in did not work. ${again}`)
    }
    const person = await findPerson(deps.db, redeemed.username)
    if (!person || !mayAdminister(person)) {
      await audit(ctx, 'admin_console.refused', redeemed.username)
      return notAdmin(ctx, redeemed.username)
    }
    const session = newCookieValue()
    await createSession(
      deps.db,
      session.idHash,
      redeemed.username,
      new Date(now().getTime() + deps.sessionLifetime * 1000),
    )
    await audit(ctx, 'admin_console.signed_in', redeemed.username)
    setCookie(ctx, { secure }, names.session, session.value, deps.sessionLifetime)
    redirect(ctx, '/admin/policy-paths')
  }

  async function signOut(ctx: Context, person: Person): Promise<void> {
    await endSession(deps.db, person.idHash)
    await audit(ctx, 'admin_console.signed_out', person.username)
    setCookie(ctx, { secure }, names.session, '', 0)
    message(ctx, 200, 'Signed out', html`You are signed out of the admin console. <a href="/admin/login">Sign in</a>.`)
  }

  function audit(
    ctx: Context,
    type: 'admin_console.signed_in' | 'admin_console.refused' | 'admin_console.signed_out',
    username: string,
  ) {
    return writeAudit(deps.db, {
      type,
      at: deps.clock.now(),
      actor: `admin-person:${username}`,
      requestId: (ctx.state.reqId as string | undefined) ?? null,
      subject: username,
      data: {},
    })
  }

  function notAdmin(ctx: Context, username: string): void {
    message(
      ctx,
      403,
      'Not an administrator',
      html`You are signed in at Mandate as <strong>${username}</strong>, who does not hold the <code>mandate:admin</code> role. Ask an administrator to add it to your User document.`,
    )
  }
}

/** Enabled, and holding the role: the one test of who may use the console, at sign-in and at every request. */
const mayAdminister = (user: SessionUser): boolean => !user.disabled && user.roles.includes(ADMIN_ROLE)

function redirect(ctx: Context, to: string): void {
  ctx.status = 303
  ctx.redirect(to)
  ctx.set('Cache-Control', 'no-store')
}

export function message(
  ctx: Context,
  status: number,
  title: string,
  text: ReturnType<typeof html> | string,
  frame: Frame = {},
) {
  setPageHeaders(ctx)
  ctx.status = status
  ctx.body = consolePage(title, frame, html`<h1>${title}</h1>${notice(status >= 400 ? 'error' : 'notice', text)}`)
}
