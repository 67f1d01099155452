// What an evaluation answer may be remembered for, and until when. Pure: no clock, no I/O.
// An allow is an answer about "now"; it may be reused only as long as Mandate said (cache_max_age) and
// never once the token could no longer be active. A dead token never revives, so that deny is kept.

export interface AnswerFacts {
  decision: boolean
  reason?: string | undefined
  /** context.cache_max_age: seconds Mandate allows this allow to be reused. */
  cacheMaxAge?: unknown
}

export interface TokenFacts {
  /** The token's exp (epoch seconds). Mandate caps exp by the task's expiry (its lifetime rule) and the
   *  token carries task_id but no separate task end, so exp is also the task's end as far as we can know. */
  exp: number
}

/** Epoch second until which the answer may be served from cache, or undefined: never cache it. */
export function cacheUntil(answer: AnswerFacts, token: TokenFacts, now: number): number | undefined {
  let until: number
  if (answer.decision) {
    const maxAge = answer.cacheMaxAge
    if (typeof maxAge !== 'number' || !Number.isFinite(maxAge) || maxAge <= 0) return undefined
    until = Math.min(now + Math.floor(maxAge), token.exp)
  } else if (answer.reason === 'token_inactive') {
    // Revoked, expired or its task ended: nothing brings it back before its exp, when it is gone anyway.
    until = token.exp
  } else {
    // rate_exceeded, approval_required, approval_denied, …: each can change at the next call.
    return undefined
  }
  return until > now ? until : undefined
}

/** Canonical JSON (object keys sorted at every depth), so equal properties make equal cache keys. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

export interface KeyFacts {
  action: string
  object: string
  properties?: Record<string, unknown> | undefined
  actionProperties?: Record<string, unknown> | undefined
}

/** One allow per (token, action, object, properties): an allow for amount 1 says nothing about 10 000. */
export const allowKey = (tokenKey: string, request: KeyFacts): string =>
  canonicalJson([
    tokenKey,
    request.action,
    request.object,
    request.properties ?? null,
    request.actionProperties ?? null,
  ])

/** token_inactive is about the token, whatever the action: one entry that shadows every allow. */
export const inactiveKey = (tokenKey: string): string => canonicalJson([tokenKey])
