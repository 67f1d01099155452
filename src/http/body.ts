// A request body as form-encoded (RFC 6749 style, repeated names become lists) or JSON (strictly: no
// repeated member names, bounded depth). boundedBody received it, within its size and time bounds.
// Anything else is a client error.
import type { Context } from 'koa'
import { bufferedBody } from './bounded-body.ts'
import { formParams } from './body-params.ts'
import { JSON_PROBLEMS, parseStrictJson } from './strict-json.ts'

export class BodyError extends Error {
  override name = 'BodyError'
}

export type Params = Record<string, unknown>

export function readParams(ctx: Context): Params {
  if (ctx.method === 'GET' || ctx.method === 'HEAD') return {}
  const text = bufferedBody(ctx)?.toString('utf8') ?? ''
  if (text.length === 0) return {}
  if (ctx.is('application/json')) {
    const json = parseStrictJson(text)
    if (!json.ok) throw new BodyError(JSON_PROBLEMS[json.problem])
    const { value } = json
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new BodyError('request body must be a JSON object')
    return value as Params
  }
  if (ctx.is('application/x-www-form-urlencoded')) return formParams(text)
  throw new BodyError('request body must be application/x-www-form-urlencoded or application/json')
}
