// The framework-neutral answer the helper gives when it refuses a request, and the RFC 6750 §3 /
// RFC 9449 §7.1 / RFC 9728 §5.1 challenges it carries. Pure: adapters only copy it onto their response.

/** What to send: status, headers and an optional JSON body, the same for koa, express and fetch. */
export interface Reply {
  status: number
  headers: Record<string, string>
  body?: string
}

export type Scheme = 'Bearer' | 'DPoP'

export interface ChallengeParams {
  error?: string
  error_description?: string
  /** RFC 6750 §3: the scope the resource needs (insufficient_scope). */
  scope?: string
  /** RFC 9449 §7.1: the proof algorithms accepted (DPoP scheme only). */
  algs?: string
  /** RFC 9728 §5.1: where the client finds this resource's metadata. */
  resource_metadata: string
}

// RFC 9110 §5.6.4 quoted-string: backslash and double quote are escaped.
const quoted = (value: string) => `"${value.replaceAll(/["\\]/g, (c) => `\\${c}`)}"`

/** One challenge, parameters in a fixed order: error, error_description, scope, algs, resource_metadata. */
export function challenge(scheme: Scheme, params: ChallengeParams): string {
  const order = ['error', 'error_description', 'scope', 'algs', 'resource_metadata'] as const
  const parts = order.flatMap((name) => {
    const value = params[name]
    return value === undefined ? [] : [`${name}=${quoted(value)}`]
  })
  return `${scheme} ${parts.join(', ')}`
}

/** A JSON answer, no-store unless the headers given say otherwise (refusals are never cached). */
export function jsonReply(status: number, body: object, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  }
}
