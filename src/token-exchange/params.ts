// The RFC 8693 §2.1 request, parsed once. Problems become Denied reasons (never thrown zod errors).
import { TOKEN_TYPES } from '../oauth/protocol.ts'
import { Denied } from '../delegation/denied.ts'

export const PARAMETERS = [
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
  'requested_token_type',
  'resource',
  'audience',
  'scope',
  'task_id',
] as const
/** RFC 8693 §2.1: resource and audience may be repeated; every other parameter is singular. */
export const REPEATABLE = ['resource', 'audience'] as const

export interface ExchangeParams {
  subject_token: string
  subject_token_type: string
  actor?: { token: string; type: string }
  requested_token_type?: string
  resources: string[]
  audiences: string[]
  scope?: string[]
  task_id?: string
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value.length > 0 ? value : undefined)
const list = (value: unknown): string[] =>
  (Array.isArray(value) ? value : value === undefined ? [] : [value]).filter((v): v is string => typeof v === 'string')

export function parseParams(raw: Record<string, unknown>): ExchangeParams {
  const subject_token = text(raw.subject_token)
  const subject_token_type = text(raw.subject_token_type)
  if (!subject_token || !subject_token_type) throw new Denied('subject_token.missing')
  if (!TOKEN_TYPES.has(subject_token_type)) throw new Denied('request.unsupported_token_type', subject_token_type)

  // RFC 8693 §2.1: actor_token_type is REQUIRED with actor_token and MUST NOT appear without it.
  const actorToken = text(raw.actor_token)
  const actorType = text(raw.actor_token_type)
  if ((actorToken === undefined) !== (actorType === undefined))
    throw new Denied('request.malformed', 'actor_token without actor_token_type, or the reverse')
  if (actorType !== undefined && !TOKEN_TYPES.has(actorType))
    throw new Denied('request.unsupported_token_type', actorType)

  const requested = text(raw.requested_token_type)
  if (requested !== undefined && !TOKEN_TYPES.has(requested))
    throw new Denied('request.unsupported_requested_type', requested)

  const scope = text(raw.scope)?.split(' ').filter(Boolean)
  const task_id = text(raw.task_id)
  return {
    subject_token,
    subject_token_type,
    ...(actorToken && actorType ? { actor: { token: actorToken, type: actorType } } : {}),
    ...(requested ? { requested_token_type: requested } : {}),
    resources: list(raw.resource),
    audiences: list(raw.audience),
    ...(scope && scope.length > 0 ? { scope } : {}),
    ...(task_id ? { task_id } : {}),
  }
}
