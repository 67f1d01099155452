// Reads a request body as form-encoded (RFC 6749 style, repeated names become lists) or JSON,
// within oidc-provider's own size limit. Anything else is a client error.
import type { Context } from 'koa'

export class BodyError extends Error {
  override name = 'BodyError'
}

const maxBody = 56 * 1024

export type Params = Record<string, unknown>

export async function readParams(ctx: Context): Promise<Params> {
  if (ctx.method === 'GET' || ctx.method === 'HEAD') return {}
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length
    if (size > maxBody) throw new BodyError('request body is too large')
    chunks.push(chunk as Buffer)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.length === 0) return {}
  if (ctx.is('application/json')) {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      throw new BodyError('request body is not valid JSON')
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new BodyError('request body must be a JSON object')
    return value as Params
  }
  if (ctx.is('application/x-www-form-urlencoded')) {
    const params: Params = {}
    for (const [name, value] of new URLSearchParams(text)) {
      const previous = params[name]
      params[name] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value]
    }
    return params
  }
  throw new BodyError('request body must be application/x-www-form-urlencoded or application/json')
}
