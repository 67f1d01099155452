// The one request shape the core reads (fetch's Request, or a node/koa/express request made to look
// like it) and the RFC 6750 §2.1 / RFC 9449 §7.1 Authorization header. Pure.

/** fetch's Headers, or node's IncomingHttpHeaders (lower-case names). */
export type HeadersLike = { get(name: string): string | null } | Record<string, string | string[] | undefined>

export interface RequestLike {
  method: string
  /**
   * The request's URL, absolute or a path. Only its path and query are read: DPoP's htu is compared with
   * them on this resource's public origin, never on the Host header the request brought.
   */
  url: string
  headers: HeadersLike
}

/** A header's value(s): undefined when absent, an array when repeated (node keeps repeats of unknown names). */
export function header(headers: HeadersLike, name: string): string | string[] | undefined {
  if (typeof headers.get === 'function') return (headers as { get(name: string): string | null }).get(name) ?? undefined
  return (headers as Record<string, string | string[] | undefined>)[name.toLowerCase()]
}

export type Credentials =
  | { kind: 'none' }
  | { kind: 'malformed' }
  | { kind: 'token'; scheme: 'Bearer' | 'DPoP'; token: string }

// RFC 6750 §2.1 b64token; the scheme is case-insensitive (RFC 9110 §11.1).
const AUTHORIZATION = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*)$/i

/** What the Authorization header presents. Other schemes (Basic, …) are no credentials for us. */
export function readCredentials(value: string | string[] | undefined): Credentials {
  if (value === undefined || value === '') return { kind: 'none' }
  if (Array.isArray(value)) return { kind: 'malformed' }
  const match = AUTHORIZATION.exec(value.trim())
  if (match) {
    const scheme = (match[1] as string).toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer'
    return { kind: 'token', scheme, token: match[2] as string }
  }
  // "Bearer" or "DPoP" with nothing usable after it is a malformed attempt, not an absent one.
  return /^(Bearer|DPoP)(\s|$)/i.test(value.trim()) ? { kind: 'malformed' } : { kind: 'none' }
}

/** RFC 9449 §4.3 check 9's "HTTP URI of the request": the request's path and query on our public origin. */
export function publicUrl(url: string, origin: string): string | undefined {
  const parsed = URL.parse(url, origin)
  return parsed ? new URL(`${parsed.pathname}${parsed.search}`, origin).href : undefined
}
