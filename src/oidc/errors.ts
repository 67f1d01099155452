// Outages at the OAuth edge: 503 temporarily_unavailable (RFC 6749 §4.1.2.1 code), never a token,
// never active:true. Bugs are not dressed up as this; only recognised database outages are.
import { errors } from 'oidc-provider'
import { isOutage } from '../db/outage.ts'
import { EDGE_ERRORS } from '../http/http-error.ts'

// The same 503 as our own edges answer: one definition, in EDGE_ERRORS.
const UNAVAILABLE = EDGE_ERRORS.temporarily_unavailable

export class TemporarilyUnavailable extends errors.OIDCProviderError {
  constructor(options?: { cause?: unknown }) {
    super(UNAVAILABLE.status, UNAVAILABLE.error, options?.cause === undefined ? undefined : { cause: options.cause })
    this.expose = true // oidc-provider hides every >= 500 as server_error; this one is meant to be seen
    this.allow_redirect = false
    this.error_description = UNAVAILABLE.description
  }
}

/** An outage (database or another dependency) as TemporarilyUnavailable; anything else unchanged. */
export function asUnavailable(error: unknown): unknown {
  return isOutage(error) && !(error instanceof TemporarilyUnavailable)
    ? new TemporarilyUnavailable({ cause: error })
    : error
}

/** Runs work that touches the database; an outage becomes TemporarilyUnavailable (503). */
export async function failClosed<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    throw asUnavailable(error)
  }
}
