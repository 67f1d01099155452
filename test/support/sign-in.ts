// A person's browser without a browser: real HTTP to the real server, a cookie jar that sends each cookie
// only where its Path allows (as a browser does), redirects followed by hand, and the sign-in and consent
// forms submitted as a browser would (their fields and CSRF token read from the page). The browser tests (test/browser/) drive the same pages in Chromium.
import { createHash, randomBytes } from 'node:crypto'
import { basic } from './oauth.ts'

export class CookieJar {
  /** By name and path, as a browser keeps them (RFC 6265 §5.3): one name may be set at several paths. */
  readonly cookies = new Map<string, { name: string; value: string; path: string }>()
  /** Every Set-Cookie line received, in order (to check their attributes). */
  readonly lines: string[] = []
  store(response: Response, url: string): void {
    for (const line of response.headers.getSetCookie()) {
      this.lines.push(line)
      const [pair = '', ...attributes] = line.split(';')
      const at = pair.indexOf('=')
      const name = pair.slice(0, at).trim()
      const value = pair.slice(at + 1).trim()
      const path = pathOf(attributes, url)
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') this.cookies.delete(`${name};${path}`)
      else this.cookies.set(`${name};${path}`, { name, value, path })
    }
  }
  /** The Cookie header a browser sends to `url`: only cookies whose Path matches it (RFC 6265 §5.1.4, §5.4). */
  header(url: string): string {
    const requested = new URL(url).pathname
    return [...this.cookies.values()]
      .filter(({ path }) => pathMatches(requested, path))
      .sort((a, b) => b.path.length - a.path.length)
      .map(({ name, value }) => `${name}=${value}`)
      .join('; ')
  }
}

/** RFC 6265 §5.2.4: the Path attribute, else the default path of the request URL (§5.1.4). */
function pathOf(attributes: string[], url: string): string {
  const attribute = attributes.map((a) => a.trim()).find((a) => /^path=/i.test(a))
  const value = attribute?.slice('path='.length)
  if (value?.startsWith('/')) return value
  const requested = new URL(url).pathname
  return requested.lastIndexOf('/') > 0 ? requested.slice(0, requested.lastIndexOf('/')) : '/'
}

const pathMatches = (requested: string, path: string): boolean =>
  requested === path || (requested.startsWith(path) && (path.endsWith('/') || requested.charAt(path.length) === '/'))

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

/** One request as the browser sends it: the jar's cookies, no automatic redirect. */
export async function browse(
  jar: CookieJar,
  url: string,
  init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { cookie: jar.header(url), accept: 'text/html', ...init.headers }
  if (init.form) headers['content-type'] = 'application/x-www-form-urlencoded'
  const response = await fetch(url, {
    method: init.method ?? (init.form ? 'POST' : 'GET'),
    headers,
    redirect: 'manual',
    ...(init.form ? { body: new URLSearchParams(init.form) } : {}),
  })
  jar.store(response, url)
  return response
}

export interface Landing {
  /** The last response: a page of ours (200, 4xx), or the redirect that leaves the issuer. */
  response: Response
  url: string
  /** Where the last redirect pointed when it left the issuer (the client's redirect_uri). */
  leftTo?: URL
  html: string
}

/** Follows redirects within the issuer; stops at a page or at a redirect elsewhere. */
export async function follow(jar: CookieJar, url: string, issuer: string, first?: Response): Promise<Landing> {
  let current = url
  let response = first ?? (await browse(jar, current))
  for (let hops = 0; hops < 10; hops++) {
    const location = response.headers.get('location')
    if (response.status < 300 || response.status >= 400 || !location) break
    const next = new URL(location, current)
    if (next.origin !== new URL(issuer).origin) return { response, url: current, leftTo: next, html: '' }
    current = next.href
    response = await browse(jar, current)
  }
  return { response, url: current, html: await response.text() }
}

export const csrfOf = (html: string): string => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? ''
export const interactionUidOf = (url: string): string => /\/interaction\/([^/?]+)/.exec(url)?.[1] ?? ''

export interface AuthorizationRequest {
  client_id: string
  redirect_uri: string
  scope: string
  resource?: string | string[]
  state?: string
  nonce?: string
  code_challenge?: string
  code_challenge_method?: string
  prompt?: string
  [name: string]: string | string[] | undefined
}

export function authorizationUrl(issuer: string, request: AuthorizationRequest): string {
  const url = new URL('/auth', issuer)
  url.searchParams.set('response_type', 'code')
  for (const [name, value] of Object.entries(request)) {
    for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value])
      url.searchParams.append(name, item)
  }
  return url.href
}

/** Posts the sign-in form of the page at `landing` and follows on. */
export async function submitSignIn(
  jar: CookieJar,
  landing: Landing,
  issuer: string,
  username: string,
  password: string,
): Promise<Landing> {
  const uid = interactionUidOf(landing.url)
  const response = await browse(jar, `${issuer}/interaction/${uid}/login`, {
    form: { csrf: csrfOf(landing.html), username, password },
  })
  return follow(jar, `${issuer}/interaction/${uid}/login`, issuer, response)
}

/** Answers the consent page at `landing` (Allow or Deny) and follows on. */
export async function submitConsent(
  jar: CookieJar,
  landing: Landing,
  issuer: string,
  decision: 'allow' | 'deny',
): Promise<Landing> {
  const uid = interactionUidOf(landing.url)
  const response = await browse(jar, `${issuer}/interaction/${uid}/consent`, {
    form: { csrf: csrfOf(landing.html), decision },
  })
  return follow(jar, `${issuer}/interaction/${uid}/consent`, issuer, response)
}

/**
 * The whole front channel: authorize, sign in, allow; the redirect to the client it ends with. Throws
 * when a page comes instead of the redirect (the test then looks at that page itself).
 */
export async function authorize(
  issuer: string,
  request: AuthorizationRequest,
  person: { username: string; password: string },
  jar = new CookieJar(),
): Promise<{ redirect: URL; jar: CookieJar }> {
  let landing = await follow(jar, authorizationUrl(issuer, request), issuer)
  if (!landing.leftTo && landing.url.includes('/interaction/') && landing.html.includes('name="password"'))
    landing = await submitSignIn(jar, landing, issuer, person.username, person.password)
  if (!landing.leftTo && landing.url.includes('/interaction/') && landing.html.includes('value="allow"'))
    landing = await submitConsent(jar, landing, issuer, 'allow')
  if (!landing.leftTo)
    throw new Error(
      `no redirect to the client: ${landing.response.status} ${landing.url}\n${landing.html.slice(0, 500)}`,
    )
  return { redirect: landing.leftTo, jar }
}

/**
 * A token request (RFC 6749 §4.1.3, §6) from `client`: Basic authentication for a confidential client,
 * client_id in the body for a public one.
 */
export const tokenRequest = (base: string, client: { id: string; secret?: string }, params: Record<string, string>) =>
  fetch(`${base}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(client.secret ? { authorization: basic(client.id, client.secret) } : {}),
    },
    body: new URLSearchParams(client.secret ? params : { client_id: client.id, ...params }),
  })

/** The authorization request of a test (code flow, S256 PKCE) from the sign-in page on: its landing. */
export const startAuthorization = (
  issuer: string,
  jar: CookieJar,
  request: Partial<AuthorizationRequest> & { client_id: string; redirect_uri: string },
) =>
  follow(
    jar,
    authorizationUrl(issuer, {
      scope: 'openid',
      code_challenge: pkce().challenge,
      code_challenge_method: 'S256',
      ...request,
    }),
    issuer,
  )
