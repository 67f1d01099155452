// RFC 9457 problem details for the admin API's refusals: one shape for every change endpoint, with the
// findings that explain it (severity, code, message, JSON pointer path, line and column when known).
import type { Context } from 'koa'

export interface Problem {
  status: number
  title: string
  detail: string
  findings?: unknown[]
}

/** RFC 9457 §3: the refusal as application/problem+json, with what was found. */
export function problem(ctx: Context, status: number, title: string, detail: string, findings: unknown[] = []): void {
  ctx.status = status
  ctx.type = 'application/problem+json'
  ctx.body = { type: 'about:blank', title, status, detail, ...(findings.length > 0 ? { findings } : {}) }
}
