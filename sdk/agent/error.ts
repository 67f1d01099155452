// MandateError: Mandate refused a request with an OAuth error body (RFC 6749 §5.2), kept whole with its
// HTTP status. 503 (store unavailable) and 429 (rate limit) are retryable unchanged, after Retry-After.
// And the one way a request is sent: a success, or the refusal thrown.

/** A refusal from Mandate: `error` is the OAuth error code, `description` its fixed public text. */
export class MandateError extends Error {
  override readonly name = 'MandateError'
  readonly status: number
  readonly error: string
  readonly description: string | undefined
  /** The whole error body, as the server sent it. */
  readonly body: Readonly<Record<string, unknown>>
  /** The same request may succeed later (503, 429): wait `retryAfter` seconds when given. */
  readonly retryable: boolean
  readonly retryAfter: number | undefined
  /** X-Decision-Id: the decision record of a refused exchange, for an administrator to look up. */
  readonly decisionId: string | undefined

  constructor(status: number, body: Record<string, unknown> & { error: string }, headers: Headers = new Headers()) {
    const description = typeof body.error_description === 'string' ? body.error_description : undefined
    super(`Mandate answered ${status} ${body.error}${description ? `: ${description}` : ''}`)
    this.status = status
    this.error = body.error
    this.description = description
    this.body = body
    this.retryable = status === 503 || status === 429
    // RFC 9110 §10.2.3: delay-seconds only (Mandate never sends an HTTP date).
    const delay = headers.get('retry-after')
    this.retryAfter = delay && /^\d+$/.test(delay) ? Number(delay) : undefined
    this.decisionId = headers.get('x-decision-id') ?? undefined
  }
}

/**
 * The error for an answer that is not a success: a MandateError for an OAuth error body, otherwise a
 * plain Error naming the status (a proxy's HTML page, a 500 without a body): never a silent success.
 */
export async function refusal(response: Response): Promise<Error> {
  const text = await response.text()
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = undefined
  }
  if (isErrorBody(body)) return new MandateError(response.status, body, response.headers)
  return new Error(`Mandate answered ${response.status} without an OAuth error body`, {
    cause: { status: response.status, body: text.slice(0, 500) },
  })
}

const isErrorBody = (body: unknown): body is Record<string, unknown> & { error: string } =>
  typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string'

/**
 * Sends the request; when it carried a DPoP proof and Mandate asks for a nonce (RFC 9449 §8), sends it once
 * more (the caller's signer has kept the nonce of the answer). Resolves with a success, or throws.
 */
export async function succeeded(send: () => Promise<Response>, proves: boolean): Promise<Response> {
  let response = await send()
  if (!response.ok) {
    const error = await refusal(response)
    if (!(proves && error instanceof MandateError && error.error === 'use_dpop_nonce')) throw error
    response = await send()
    if (!response.ok) throw await refusal(response)
  }
  return response
}
