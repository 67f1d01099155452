// The evaluation API as a resource server calls it (AuthZEN, Mandate's profile): real HTTP, Basic auth.
import { basic, secrets } from './oauth.ts'

export interface Asked {
  token: string
  action: string
  object?: string
  resource?: string
}

export const evaluationBody = ({ token, action, object = 'ticket-42', resource = 'https://tickets.test/' }: Asked) => ({
  subject: { type: 'access_token', id: token },
  resource: { type: resource, id: object },
  action: { name: action },
})

export async function callAccess(
  base: string,
  path: 'evaluation' | 'evaluations',
  body: unknown,
  caller = 'rs-tickets',
): Promise<{ status: number; body: Record<string, unknown>; decisionId: string | null; headers: Headers }> {
  const response = await fetch(`${base}/access/v1/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basic(caller, secrets[caller] as string) },
    body: JSON.stringify(body),
  })
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    decisionId: response.headers.get('x-decision-id'),
    headers: response.headers,
  }
}

/** One evaluation's decision and context; fails loudly on anything but 200. */
export async function evaluate(base: string, asked: Asked, caller = 'rs-tickets') {
  const answer = await callAccess(base, 'evaluation', evaluationBody(asked), caller)
  if (answer.status !== 200) throw new Error(`evaluation answered ${answer.status}: ${JSON.stringify(answer.body)}`)
  return answer.body as { decision: boolean; context: Record<string, unknown> }
}
