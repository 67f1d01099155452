// The rules every URL the server fetches (Issuer jwksUri, Resource revocationWebhook) must follow:
// https in production, and never a loopback, link-local or metadata host unless an operator allows it.
// Checked when `apply` reads a document and again before every request (fetch.ts). Pure.
import { forbiddenRange } from './address.ts'

export interface OutboundRules {
  /** Refuse http: URLs (always on with NODE_ENV=production; see config/load.ts). */
  requireHttps: boolean
  /** Hosts, as written in URLs, that may be reached although they are loopback, link-local or metadata. */
  allowHosts: readonly string[]
}

/** The URL's host as compared with the allow-list: lowercase, no IPv6 brackets, no trailing dot. */
export const hostOf = (url: URL): string => normalizeHost(url.hostname)

const normalizeHost = (host: string): string =>
  host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '')

/** True when the operator listed this host (a name, or an IP literal in any spelling URL parsing accepts). */
export function isAllowedHost(host: string, rules: OutboundRules): boolean {
  return rules.allowHosts.some((entry) => canonicalHost(entry) === host)
}

function canonicalHost(entry: string): string {
  const bare = normalizeHost(entry.trim())
  try {
    return hostOf(new URL(`http://${bare.includes(':') ? `[${bare}]` : bare}/`))
  } catch {
    return bare
  }
}

// RFC 6761 §6.3: "localhost" and names under it resolve to loopback.
const isLoopbackName = (host: string) => host === 'localhost' || host.endsWith('.localhost')

/** Why the server must not fetch this URL, judged from its text alone (at apply time, without DNS). */
export function urlProblem(url: string, rules: OutboundRules): string | undefined {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return 'not a URL'
  }
  const host = hostOf(parsed)
  const loopbackName = isLoopbackName(host) && !isAllowedHost(host, rules)
  return requestProblem(parsed, rules) ?? (loopbackName ? forbidden('loopback', host) : undefined)
}

/**
 * Why the server must not send this request, before connecting: the scheme, and a forbidden IP literal.
 * A name is judged by what DNS answers for it (outbound/fetch.ts), so a rebinding name is caught too.
 */
export function requestProblem(url: URL, rules: OutboundRules): string | undefined {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an https URL'
  if (rules.requireHttps && url.protocol !== 'https:') return 'must be an https URL in production'
  const host = hostOf(url)
  if (isAllowedHost(host, rules)) return undefined
  const range = forbiddenRange(host)
  return range === undefined ? undefined : forbidden(range, host)
}

const forbidden = (range: string, host: string) =>
  `must not point at a ${range} address (${host}) unless MANDATE_OUTBOUND__ALLOW_HOSTS lists it`
