// Tells a database outage from a bug: outages fail closed as 503 + Retry-After, bugs stay 500.

// SQLSTATE classes that say "the database cannot do this now", never "our statement is wrong": 08
// connection exception, 40 transaction rollback (serialization failure, deadlock), 53 insufficient
// resources (disk full, too many connections), 54 program limit exceeded, 55 object not in prerequisite
// state (lock_timeout's 55P03), 57 operator intervention (statement_timeout's 57014, shutdowns), 58
// system error (I/O). Every other SQLSTATE (22 data, 23 constraint, 42 syntax or schema, P0 raise, XX
// internal) is a bug of ours or of the schema, and stays a 500.
const outageClasses = new Set(['08', '40', '53', '54', '55', '57', '58'])
// Outside those classes: the database does not exist (being restored), and a session ended by
// idle_in_transaction_session_timeout (a paused process held a transaction open too long).
const outageCodes = new Set(['3D000', '25P03'])
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
  /query read timeout/i, // pg's client-side query_timeout: the database did not answer within the bound
  /not queryable/i, // a pg client whose connection died, reused by a rollback
  /connection has been discarded/i,
  /timeout exceeded when trying to connect/i,
  /connection error/i,
  /not currently accepting connections/i,
  /cannot use a pool after calling end/i,
  /driver has already been destroyed/i,
  /pglite is closed/i,
]

/** True when a SQLSTATE means the database refused for now (an outage class), not for a bug of ours. */
const isOutageSqlState = (code: string): boolean => outageClasses.has(code.slice(0, 2)) || outageCodes.has(code)

/**
 * True when the error means "the database cannot answer now": an outage SQLSTATE, a network error, a
 * timeout of ours (pool acquisition, client-side query timeout), a dead connection.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && (networkCodes.has(code) || (hasSqlState(current) && isOutageSqlState(code))))
      return true
    if (messages.some((pattern) => pattern.test(current instanceof Error ? current.message : ''))) return true
    current = current.cause
  }
  return false
}

/** An outage of the database or another dependency we cannot answer without: a 503, never a bug's 500. */
export const isOutage = (error: unknown): boolean =>
  error instanceof DatabaseUnavailable || error instanceof DependencyUnavailable || isDatabaseUnavailable(error)

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
