// What never changes about a token once issued, kept per process so that an evaluation of a token seen before
// needs one statement: its lineage row's immutable columns (holder, subject and its issuer, grant, scope, act
// chain, task, expiry) and its task's declared actions and end. Activity (revocation, ancestors, task completion,
// disabled parties) is never kept: it is read by that one statement, after the request arrived.
import type { EvaluatedToken } from './store.ts'

/** Tokens kept at most: an evaluated token's facts are about 1 KB. */
export const KNOWN_TOKENS = 10_000

export class KnownTokens {
  readonly #byJti = new Map<string, EvaluatedToken>()
  readonly #max: number

  constructor(max = KNOWN_TOKENS) {
    this.#max = max
  }

  get(jti: string): EvaluatedToken | undefined {
    const known = this.#byJti.get(jti)
    if (known) {
      // Least recently used goes first: a hit moves to the end.
      this.#byJti.delete(jti)
      this.#byJti.set(jti, known)
    }
    return known
  }

  remember(token: EvaluatedToken): void {
    this.#byJti.delete(token.row.jti)
    this.#byJti.set(token.row.jti, token)
    if (this.#byJti.size > this.#max) this.#byJti.delete(this.#byJti.keys().next().value as string)
  }
}
