// The evaluation API's request bodies (OpenID AuthZEN Authorization API 1.0 §6.1 and §7.1) in Mandate's
// profile: the subject is the agent's access token, the resource a registered Resource (URI or name) with
// the object acted on as its id, the action a name of the policy paths' grammar. One schema per contract.
import * as z from 'zod'
import { ActionName } from '../policy/actions.ts'

/** Evaluations per batch request at most: a batch is one caller's page of checks, not a bulk job. */
export const MAX_EVALUATIONS = 100

const Properties = z.record(z.string(), z.unknown())
const Subject = z.strictObject({
  type: z.literal('access_token', { error: 'subject.type must be access_token' }),
  id: z.string().min(1).max(16_384),
  properties: Properties.optional(),
})
const Resource = z.strictObject({
  type: z.string().min(1).max(2048),
  id: z.string().max(1000),
  properties: Properties.optional(),
})
const Action = z.strictObject({ name: ActionName, properties: Properties.optional() })

const Entities = {
  subject: Subject,
  resource: Resource,
  action: Action,
  context: Properties.optional(),
}

// Client authentication may ride in the body (client_secret_post, private_key_jwt), as at the token endpoint.
const ClientAuth = {
  client_id: z.string().optional(),
  client_secret: z.string().optional(),
  client_assertion: z.string().optional(),
  client_assertion_type: z.string().optional(),
}

export const EvaluationRequest = z.object({ ...Entities, ...ClientAuth })
export type EvaluationRequest = z.output<typeof EvaluationRequest>
export type Evaluation = Pick<EvaluationRequest, 'subject' | 'resource' | 'action'>

export const SEMANTICS = ['execute_all', 'deny_on_first_deny', 'permit_on_first_permit'] as const
export type Semantic = (typeof SEMANTICS)[number]

export const EvaluationsRequest = z.object({
  subject: Subject.optional(),
  resource: Resource.optional(),
  action: Action.optional(),
  context: Properties.optional(),
  options: z.looseObject({ evaluations_semantic: z.enum(SEMANTICS).optional() }).optional(),
  evaluations: z
    .array(
      z.strictObject({
        subject: Subject.optional(),
        resource: Resource.optional(),
        action: Action.optional(),
        context: Properties.optional(),
      }),
    )
    .max(MAX_EVALUATIONS)
    .optional(),
  ...ClientAuth,
})
export type EvaluationsRequest = z.output<typeof EvaluationsRequest>

/**
 * AuthZEN §7.1.1: each entry's subject, resource and action default to the request's own; an entry's member
 * replaces the default whole. undefined entries: the request is one evaluation (§7.1, no `evaluations`).
 */
export function expandEvaluations(body: EvaluationsRequest): { evaluations: Evaluation[] } | { problem: string } {
  const entries = body.evaluations?.length ? body.evaluations : [{}]
  const evaluations: Evaluation[] = []
  for (const [index, entry] of entries.entries()) {
    const subject = entry.subject ?? body.subject
    const resource = entry.resource ?? body.resource
    const action = entry.action ?? body.action
    const where = body.evaluations?.length ? `evaluations[${index}]` : 'the request'
    if (!subject || !resource || !action) return { problem: `${where} needs a subject, a resource and an action` }
    evaluations.push({ subject, resource, action })
  }
  return { evaluations }
}

/** The first problem of a body that does not parse, as `path: message` (never the token itself). */
export const problemOf = (error: z.ZodError): string => {
  const issue = error.issues[0]
  return issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'invalid request body'
}
