// Malformed input is refused at the edge, the same way at every endpoint, before any endpoint parses it:
// 400 invalid_request (RFC 6749 §5.2) for a NUL or an unpaired surrogate anywhere in the path, query,
// Basic credentials or body (and in the header and claims of a JWT-shaped value), and for a JSON body nested
// too deeply or repeating a member name.
import type { Context, Next } from 'koa'
import { safeDecode } from '../lib/safe-decode.ts'
import { bodyParams } from './body-params.ts'
import { renderHttpError } from './errors.ts'
import { hasNul } from './has-nul.ts'
import { HttpError } from './http-error.ts'
import { JSON_PROBLEMS } from './strict-json.ts'

const NUL = 'request parameters must be well-formed text without NUL characters'

export async function rejectMalformed(ctx: Context, next: Next): Promise<void> {
  const problem = malformation(ctx)
  if (!problem) return next()
  renderHttpError(ctx, new HttpError('invalid_request', problem))
}

function malformation(ctx: Context): string | undefined {
  if (hasNul(safeDecode(ctx.path)) || hasNul([...new URLSearchParams(ctx.querystring)].flat())) return NUL
  if (hasNul(basicCredentials(ctx.get('authorization')))) return NUL
  const { params, problem } = bodyParams(ctx)
  // A body that is not JSON at all (or no object, or of another type) is left to the endpoint, which
  // says so in its own words.
  if (problem === 'too_deep' || problem === 'duplicate_member') return JSON_PROBLEMS[problem]
  return hasNul(params) ? NUL : undefined
}

/** RFC 6749 §2.3.1: Basic credentials are form-encoded, then base64. */
function basicCredentials(authorization: string): string[] {
  const match = /^basic +(\S+)$/i.exec(authorization)
  if (!match) return []
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8')
  return [decoded, ...decoded.split(':').map((part) => safeDecode(part.replace(/\+/g, ' ')))]
}
