// Mandate's AuthZEN evaluation contract as values: the request body, the answer read strictly, and
// the fail-closed outcome when no answer can be had. Pure.

/** The closed list of reasons Mandate gives for a deny. */
export const DENY_REASONS = [
  'token_inactive',
  'insufficient_scope',
  'action_not_allowed',
  'task_required',
  'outside_task_intent',
  'chain_too_deep',
  'actor_not_allowed',
  'approval_required',
  'approval_denied',
  'rate_exceeded',
] as const
export type DenyReason = (typeof DENY_REASONS)[number]

export type Semantic = 'execute_all' | 'deny_on_first_deny' | 'permit_on_first_permit'

/** One sensitive action on one object of this resource. */
export interface EvaluationRequest {
  /** e.g. tickets.delete */
  action: string
  /** The object's id, e.g. ticket-42. */
  object: string
  /** resource.properties */
  properties?: Record<string, unknown>
  /** action.properties */
  actionProperties?: Record<string, unknown>
}

export interface Allowed {
  decision: true
  decisionId: string
  /** Served from this process's cache rather than asked. */
  cached: boolean
  failure?: undefined
}

export interface Denied {
  decision: false
  /** One of DENY_REASONS; an unknown code from a newer Mandate is passed through, still a deny. */
  reason: DenyReason | (string & {})
  decisionId: string
  approvalId?: string
  reasonUser?: Record<string, string>
  cached: boolean
  failure?: undefined
}

/** No decision could be had: a deny all the same, with what the app should answer (503 outage, 500 bug). */
export interface Failed {
  decision: false
  failure: { status: 500 | 503; detail: string }
}

export type Evaluation = Allowed | Denied | Failed

/** What Mandate said, before caching decides anything (cacheMaxAge as received). */
export type Answer = (Omit<Allowed, 'cached'> | Omit<Denied, 'cached'>) & { cacheMaxAge?: unknown }

export const failed = (status: 500 | 503, detail: string): Failed => ({ decision: false, failure: { status, detail } })

/** The AuthZEN item for one request (subject and resource type are the caller's to add or share). */
export const evaluationItem = (resource: string, request: EvaluationRequest) => ({
  resource: {
    type: resource,
    id: request.object,
    ...(request.properties ? { properties: request.properties } : {}),
  },
  action: { name: request.action, ...(request.actionProperties ? { properties: request.actionProperties } : {}) },
})

export const subjectOf = (token: string) => ({ type: 'access_token', id: token })

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** One {decision, context} read strictly: anything but a well-formed answer is undefined (a failure). */
export function readAnswer(value: unknown, fallbackDecisionId?: string): Answer | undefined {
  if (!isObject(value) || typeof value.decision !== 'boolean') return undefined
  const context = isObject(value.context) ? value.context : {}
  const decisionId = typeof context.decision_id === 'string' ? context.decision_id : fallbackDecisionId
  if (!decisionId) return undefined
  if (value.decision) return { decision: true, decisionId, cacheMaxAge: context.cache_max_age }
  if (typeof context.reason !== 'string') return undefined
  const reasonUser = isObject(context.reason_user) ? stringsOf(context.reason_user) : undefined
  return {
    decision: false,
    reason: context.reason,
    decisionId,
    ...(typeof context.approval_id === 'string' ? { approvalId: context.approval_id } : {}),
    ...(reasonUser ? { reasonUser } : {}),
  }
}

const stringsOf = (value: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'))

/** A non-200 status: 429 and 5xx are outages (503); any other is our configuration or a bug (500). */
export function failureForStatus(status: number, body: unknown): Failed {
  const code = isObject(body) && typeof body.error === 'string' ? `: ${body.error}` : ''
  return failed(status === 429 || status >= 500 ? 503 : 500, `evaluation API answered HTTP ${status}${code}`)
}
