// Tells a database outage from a bug: outages fail closed as 503 + Retry-After, bugs stay 500.

const connectionCodes = new Set(['57P01', '57P02', '57P03', '53300', '57014', '3D000'])
const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EAI_AGAIN',
])
const messages = [
  /connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /connection error/i,
  /not currently accepting connections/i,
  /cannot use a pool after calling end/i,
  /driver has already been destroyed/i,
  /pglite is closed/i,
]

/** True when the error means "the database cannot answer now" (class 08, shutdowns, timeouts, network). */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && (code.startsWith('08') || connectionCodes.has(code) || networkCodes.has(code)))
      return true
    if (messages.some((pattern) => pattern.test(current instanceof Error ? current.message : ''))) return true
    current = current.cause
  }
  return false
}

/**
 * True when the database itself refused the statement (it carries a SQLSTATE: a constraint, a trigger,
 * a serialization or deadlock abort), as opposed to an error of our own code. No SQLSTATE class starts
 * with E, unlike Node's errno codes (EPIPE).
 */
export const hasSqlState = (error: unknown): boolean =>
  error instanceof Error && /^[0-9A-DF-Z][0-9A-Z]{4}$/.test(String((error as { code?: unknown }).code ?? ''))

/** Thrown where a database outage must surface as 503 at any edge (oidc-provider or our own koa apps). */
export class DatabaseUnavailable extends Error {
  override name = 'DatabaseUnavailable'
  constructor(options?: { cause?: unknown }) {
    super('the database is unavailable', options)
  }
}

/** Another dependency (a trusted issuer's JWKS endpoint) cannot answer: fail closed as 503 too. */
export class DependencyUnavailable extends Error {
  override name = 'DependencyUnavailable'
  constructor(what: string, options?: { cause?: unknown }) {
    super(`${what} is unavailable`, options)
  }
}
