// Evaluations through the cache: answered from it when a remembered answer may still be used
// (cache-rules.ts), otherwise asked of Mandate and remembered as far as the rules allow.
import { createHash } from 'node:crypto'
import { allowKey, cacheUntil, inactiveKey } from './cache-rules.ts'
import type { evaluationClient } from './evaluation-client.ts'
import type { Allowed, Answer, Denied, Evaluation, EvaluationRequest, Semantic } from './evaluation.ts'
import { ExpiringLru } from './lru.ts'

export interface TokenRef {
  /** The token as presented. */
  token: string
  claims: { exp: number }
}

const nowSeconds = () => Math.floor(Date.now() / 1000)

// Keyed by the token's hash, not its jti: the key then cannot name any token but this one.
const tokenKeyOf = (token: string) => createHash('sha256').update(token).digest('base64url')

export function cachedDecisions(client: ReturnType<typeof evaluationClient>, size: number) {
  const cache = new ExpiringLru<Omit<Allowed, 'cached'> | Omit<Denied, 'cached'>>(size)

  const settle = (ref: TokenRef, request: EvaluationRequest, answer: Answer, now: number): Evaluation => {
    const { cacheMaxAge, ...decided } = answer
    const reason = decided.decision ? undefined : decided.reason
    const until = cacheUntil({ decision: decided.decision, reason, cacheMaxAge }, ref.claims, now)
    if (until !== undefined) {
      const tokenKey = tokenKeyOf(ref.token)
      cache.set(answer.decision ? allowKey(tokenKey, request) : inactiveKey(tokenKey), decided, until)
    }
    return { ...decided, cached: false }
  }

  return {
    async one(ref: TokenRef, request: EvaluationRequest): Promise<Evaluation> {
      const now = nowSeconds()
      const tokenKey = tokenKeyOf(ref.token)
      // A token known dead shadows every allow remembered for it.
      const hit = cache.get(inactiveKey(tokenKey), now) ?? cache.get(allowKey(tokenKey, request), now)
      if (hit) return { ...hit, cached: true }
      const answer = await client.one(ref.token, request)
      return answer.failure ? answer : settle(ref, request, answer, now)
    },

    /** Always asked (the semantic is Mandate's to apply), and what may be remembered is. */
    async all(
      ref: TokenRef,
      requests: readonly EvaluationRequest[],
      semantic?: Semantic,
    ): Promise<Array<Evaluation | undefined>> {
      const now = nowSeconds()
      const answers = await client.many(ref.token, requests, semantic)
      if (!Array.isArray(answers)) return requests.map(() => answers)
      return answers.map((answer, i) => answer && settle(ref, requests[i] as EvaluationRequest, answer, now))
    },
  }
}
