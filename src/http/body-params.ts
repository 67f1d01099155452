// The one reader of request parameters from a body boundedBody received: form-encoded (RFC 6749 style,
// repeated names become lists) or JSON (strictly: no repeated member names, bounded depth). Parsed once
// per request, for the edge checks that run before the endpoints (malformed input, rate-limit keys) and
// for our own endpoints (readParams in body.ts, which refuses what this reports as a problem).
import type { Context } from 'koa'
import { bufferedBody } from './bounded-body.ts'
import { type JsonProblem, parseStrictJson } from './strict-json.ts'

/** Why a body yields no parameters: malformed JSON, JSON that is no object, or another media type. */
export type BodyProblem = JsonProblem | 'not_object' | 'unsupported_type'

export interface BodyParams {
  params: Record<string, unknown>
  /** Set when the body is refused as it stands; params is then empty. */
  problem?: BodyProblem
}

const parsed = new WeakMap<Context, BodyParams>()

export function bodyParams(ctx: Context): BodyParams {
  const known = parsed.get(ctx)
  if (known) return known
  const result = parse(ctx)
  parsed.set(ctx, result)
  return result
}

function parse(ctx: Context): BodyParams {
  const body = bufferedBody(ctx)
  if (!body || body.length === 0) return { params: {} }
  const text = body.toString('utf8')
  if (ctx.is('application/json')) {
    const json = parseStrictJson(text)
    if (!json.ok) return { params: {}, problem: json.problem }
    const { value } = json
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return { params: {}, problem: 'not_object' }
    return { params: value as Record<string, unknown> }
  }
  if (ctx.is('application/x-www-form-urlencoded')) return { params: formParams(text) }
  return { params: {}, problem: 'unsupported_type' }
}

function formParams(text: string): Record<string, unknown> {
  const params: Record<string, unknown> = {}
  for (const [name, value] of new URLSearchParams(text)) {
    const previous = params[name]
    params[name] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value]
  }
  return params
}
