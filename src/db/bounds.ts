// How long anything may wait on Postgres: one setting (MANDATE_DATABASE_TIMEOUT) turned into pg's
// options. Pure, so the arithmetic is tested as a table and read in one place.

export interface SessionBounds {
  /** Waiting for a pooled connection, or opening a new one. */
  connectionTimeoutMillis: number
  /** Client side: one query round trip. The backstop when the server cannot answer at all. */
  query_timeout: number
  /** Server side: one statement, cancelled by the server so the connection stays usable. */
  statement_timeout: number
  /** Server side: one lock wait (a task row held FOR UPDATE by another request). */
  lock_timeout: number
  /** Server side: a session left idle inside a transaction (a paused process) is ended, releasing its locks. */
  idle_in_transaction_session_timeout: number
  /** TCP keepalive: a peer that vanished without a FIN is noticed on idle connections too. */
  keepAlive: true
}

/**
 * The server-side limits sit at three quarters of the bound, so a live but slow database cancels the
 * statement itself (57014 / 55P03, the connection survives) before the client gives up on the socket.
 */
export function sessionBounds(timeoutSeconds: number): SessionBounds {
  const bound = timeoutSeconds * 1000
  const server = Math.floor(bound * 0.75)
  return {
    connectionTimeoutMillis: bound,
    query_timeout: bound,
    statement_timeout: server,
    lock_timeout: server,
    idle_in_transaction_session_timeout: bound,
    keepAlive: true,
  }
}
