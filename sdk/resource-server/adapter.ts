// What the koa, express and fetch adapters share: their options.
import type { RequiredScope } from './authenticate.ts'
import type { EvaluationRequest } from './evaluation.ts'

export interface MiddlewareOptions<C> {
  /** Scopes every request through this middleware needs. */
  scope?: RequiredScope
  /** Marks a request as a sensitive action, for Mandate's evaluation API to decide. */
  sensitive?: (context: C) => EvaluationRequest | undefined
}
