// Our own endpoints' parameters (the tasks API): the one reader's (body-params.ts), with anything it
// could not read refused as the client's error.
import type { Context } from 'koa'
import { type BodyProblem, bodyParams } from './body-params.ts'
import { JSON_PROBLEMS } from './strict-json.ts'

export class BodyError extends Error {
  override name = 'BodyError'
}

export type Params = Record<string, unknown>

const PROBLEMS: Record<BodyProblem, string> = {
  ...JSON_PROBLEMS,
  not_object: 'request body must be a JSON object',
  unsupported_type: 'request body must be application/x-www-form-urlencoded or application/json',
}

export function readParams(ctx: Context): Params {
  if (ctx.method === 'GET' || ctx.method === 'HEAD') return {}
  const { params, problem } = bodyParams(ctx)
  if (problem) throw new BodyError(PROBLEMS[problem])
  return params
}
