// Who is at the console: the session cookie (HttpOnly, SameSite=Lax, Path=/; Secure with the __Host-
// prefix when the console is served over https, RFC 6265bis §4.1.3.2) and the CSRF token of its forms.
import type { Context } from 'koa'
import { csrfToken, csrfValid } from '../sign-in/csrf.ts'

export interface CookieSettings {
  secure: boolean
}

export const cookieNames = ({ secure }: CookieSettings) => ({
  session: secure ? '__Host-mandate-console' : 'mandate-console',
  signIn: secure ? '__Host-mandate-console-signin' : 'mandate-console-signin',
})

/**
 * Set by hand, not with ctx.cookies: koa refuses a Secure cookie on a request it sees as plain http, and the
 * console behind a TLS-terminating proxy is https to the browser whatever the hop to us is.
 */
export function setCookie(ctx: Context, settings: CookieSettings, name: string, value: string, maxAge: number) {
  ctx.append(
    'Set-Cookie',
    `${name}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${settings.secure ? '; Secure' : ''}`,
  )
}

export const readCookie = (ctx: Context, name: string): string | undefined => {
  const value = ctx.cookies.get(name)
  return value && /^[A-Za-z0-9_-]{43}$/.test(value) ? value : undefined
}

/** The forms' token: an HMAC of the session (its stored hash), so only a page of this session has it. */
export const consoleCsrf = (key: Buffer, idHash: string): string => csrfToken(key, `console:${idHash}`)
export const consoleCsrfValid = (key: Buffer, idHash: string, presented: unknown): boolean =>
  csrfValid(key, `console:${idHash}`, presented)
