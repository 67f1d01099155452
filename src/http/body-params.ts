// The parameters of a buffered request body, parsed once for the edge checks that run before the
// endpoints (malformed input, rate-limit keys): form-encoded (repeated names become lists) or JSON.
import type { Context } from 'koa'
import { bufferedBody } from './bounded-body.ts'
import { type JsonProblem, parseStrictJson } from './strict-json.ts'

export interface BodyParams {
  params: Record<string, unknown>
  /** Set when a JSON body is refused as it stands; params is then empty. */
  problem?: JsonProblem
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
    return {
      params:
        typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {},
    }
  }
  if (ctx.is('application/x-www-form-urlencoded')) return { params: formParams(text) }
  return { params: {} }
}

export function formParams(text: string): Record<string, unknown> {
  const params: Record<string, unknown> = {}
  for (const [name, value] of new URLSearchParams(text)) {
    const previous = params[name]
    params[name] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value]
  }
  return params
}
