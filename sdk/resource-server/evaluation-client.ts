// Calls Mandate's AuthZEN evaluation API as the resource's introspector client (client_secret_basic,
// RFC 6749 §2.3.1). Fails closed: a refused connection, a timeout, a 503 or a malformed answer is a
// Failed deny, never an allow.
import {
  type Answer,
  type EvaluationRequest,
  evaluationItem,
  type Failed,
  failed,
  failureForStatus,
  readAnswer,
  type Semantic,
  subjectOf,
} from './evaluation.ts'
import type { FetchLike } from './fetch.ts'

export interface EvaluationClientOptions {
  issuer: string
  resource: string
  clientId: string
  clientSecret: string
  fetch: FetchLike
  timeoutMs: number
}

export function evaluationClient(options: EvaluationClientOptions) {
  const base = options.issuer.replace(/\/$/, '')
  // RFC 6749 §2.3.1: id and secret are form-urlencoded before Base64.
  const basic = Buffer.from(
    `${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`,
  ).toString('base64')

  async function post(path: string, body: object): Promise<{ json: unknown; decisionId?: string } | Failed> {
    let response: Response
    let json: unknown
    try {
      response = await options.fetch(`${base}${path}`, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeoutMs),
      })
      json = await response.json().catch(() => undefined)
    } catch (error) {
      return failed(503, `evaluation API unreachable: ${(error as Error).message}`)
    }
    if (response.status !== 200) return failureForStatus(response.status, json)
    const decisionId = response.headers.get('x-decision-id') ?? undefined
    return { json, ...(decisionId ? { decisionId } : {}) }
  }

  return {
    /** POST /access/v1/evaluation for one request. */
    async one(token: string, request: EvaluationRequest): Promise<Answer | Failed> {
      const answered = await post('/access/v1/evaluation', {
        subject: subjectOf(token),
        ...evaluationItem(options.resource, request),
      })
      if ('failure' in answered) return answered
      return readAnswer(answered.json, answered.decisionId) ?? failed(500, 'evaluation API answer is malformed')
    },

    /**
     * POST /access/v1/evaluations: one answer per request, in order; undefined where Mandate stopped
     * early (deny_on_first_deny, permit_on_first_permit). A failure is every item's.
     */
    async many(
      token: string,
      requests: readonly EvaluationRequest[],
      semantic?: Semantic,
    ): Promise<Array<Answer | undefined> | Failed> {
      const answered = await post('/access/v1/evaluations', {
        subject: subjectOf(token),
        ...(semantic ? { options: { evaluations_semantic: semantic } } : {}),
        evaluations: requests.map((request) => evaluationItem(options.resource, request)),
      })
      if ('failure' in answered) return answered
      const list = (answered.json as { evaluations?: unknown } | undefined)?.evaluations
      if (!Array.isArray(list) || list.length > requests.length) return failed(500, 'evaluations answer is malformed')
      const answers = list.map((item) => readAnswer(item))
      if (answers.some((answer) => answer === undefined)) return failed(500, 'evaluations answer is malformed')
      return requests.map((_, i) => answers[i])
    },
  }
}
