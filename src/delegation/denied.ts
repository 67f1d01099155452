// A refusal on the way to a decision: thrown by the steps that load an exchange's facts (parsing,
// verifying tokens, resolving targets) and by the edges, caught once per edge. Each edge gives it its
// public face (token-exchange/denials.ts for the token endpoint).
import type { DenialReason } from './decision.ts'

export class Denied extends Error {
  override name = 'Denied'
  readonly reason: DenialReason
  /** For the decision record and logs only; never sent to the client. */
  readonly detail: string | undefined

  constructor(reason: DenialReason, detail?: string) {
    super(reason)
    this.reason = reason
    this.detail = detail
  }
}
