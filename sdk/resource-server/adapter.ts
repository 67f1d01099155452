// What the koa, express and fetch adapters share: their options, and the URL the client used.
import type { EvaluationRequest } from './evaluation.ts'

export interface MiddlewareOptions<C> {
  /** Scopes every request through this middleware needs. */
  scope?: string | readonly string[]
  /** Marks a request as a sensitive action, for Mandate's evaluation API to decide. */
  sensitive?: (context: C) => EvaluationRequest | undefined
  /**
   * The scheme and host clients use (e.g. https://tickets.example) when a proxy stands in front:
   * DPoP proofs name that URL (RFC 9449 §4.3 htu), not the one this process sees.
   */
  origin?: string
}

/** The request's absolute URL, on the public origin when one is configured. */
export function requestUrl(url: string, origin: string | undefined): string {
  if (!origin) return url
  const { pathname, search } = new URL(url)
  return new URL(`${pathname}${search}`, origin).href
}
