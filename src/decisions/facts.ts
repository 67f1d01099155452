// What a decision was decided on besides the policy (decisions.facts, migration 0013), so it can be decided
// again against a candidate policy (POST /admin/v1/policy-paths:replay). The shape of a simulation request
// (client_id, resource, grant_type, subject claims, scope, task, action) plus what the configuration said of
// the client and resources then. Compact: no token strings, no secrets, only what the decision reads.
import * as z from 'zod'
import { type ActClaim, identityOnly } from '../policy/act-claim.ts'

const Act = z.custom<ActClaim>((value) => identityOnly(value) !== undefined, 'an act claim')
const Strings = z.array(z.string())

/** A token's lineage row, as much as the decision reads of it (delegation/dependencies.ts TokenLineage). */
const Lineage = z.object({
  jti: z.string(),
  ancestors: Strings,
  depends_on: Strings,
  task_path: Strings,
  client_id: z.string(),
  parties: Strings,
})

const Cnf = z.object({ jkt: z.string() })

/**
 * Named as in a simulation request (simulation/request.ts) where they mean the same: client_id, resource,
 * grant_type, scope, subject claims (sub, scope, act, may_act, exp, client_id, cnf), subject_token_type,
 * actor_token, task (expires_in from now), dpop_jkt. `subject.issuer` is the Issuer document's name (or self),
 * not an iss URL; `context` is what the client's and resources' documents said then.
 */
export const RecordedExchange = z.object({
  v: z.literal(1),
  /** The decision's clock (epoch seconds): lifetimes are decided again at that time. */
  now: z.number().int(),
  client_id: z.string(),
  grant_type: z.string(),
  /** RFC 8707 resource URIs the request targeted (audiences resolved). */
  resource: Strings,
  /** The requested scope; absent when none was asked for. */
  scope: Strings.optional(),
  subject_token_type: z.string(),
  /** The subject token: its claims that matter, where it came from, and its lineage (our own tokens). */
  subject: z.object({
    issuer: z.string(),
    origin: z.string().optional(),
    sub: z.string(),
    scope: Strings.optional(),
    act: Act.optional(),
    may_act: z
      .object({ sub: z.string().optional(), client_id: z.string().optional(), iss: z.string().optional() })
      .optional(),
    exp: z.number(),
    client_id: z.string().optional(),
    cnf: Cnf.optional(),
    lineage: Lineage.optional(),
  }),
  /** The actor token (RFC 8693 §2.1), when one was presented. */
  actor_token: z
    .object({
      client_id: z.string(),
      sub: z.string(),
      origin: z.string(),
      act: Act.optional(),
      exp: z.number().optional(),
      cnf: Cnf.optional(),
      lineage: Lineage.optional(),
    })
    .optional(),
  /**
   * The task as it stood then (only id and live when no task had the id); the actors its paths list are read
   * again from the policy decided with.
   */
  task: z
    .object({
      id: z.string(),
      live: z.boolean(),
      /** The stored task's id as stored (the requested id may be spelled otherwise: a uuid in capitals). */
      task_id: z.string().optional(),
      client_id: z.string().optional(),
      delegator: z.string().optional(),
      delegator_issuer: z.string().optional(),
      resources: Strings.optional(),
      scope: Strings.optional(),
      expires_in: z.number().optional(),
      task_path: Strings.optional(),
      policy_paths: Strings.optional(),
    })
    .optional(),
  /** RFC 9449: the thumbprint of the request's DPoP proof key, when it carried one. */
  dpop_jkt: z.string().optional(),
  /** What the client's and resources' documents (and the server) said besides the policy. */
  context: z.object({
    confidential: z.boolean(),
    actor_issuer: z.string().optional(),
    resource_scopes: Strings,
    access_token_lifetime: z.number(),
    client_scopes: Strings,
    actor_scopes: Strings.optional(),
    client_requires_dpop: z.boolean().optional(),
  }),
})
export type RecordedExchange = z.output<typeof RecordedExchange>

export const RecordedEvaluation = z.object({
  v: z.literal(1),
  now: z.number().int(),
  action: z.string(),
  resource: z.string(),
  /** The token evaluated, active then; absent when it was not (the decision needs no policy then). */
  token: z
    .object({
      client_id: z.string(),
      grant_type: z.string(),
      scope: Strings,
      act: Act.optional(),
      exp: z.number(),
      task: z.object({ id: z.string(), exp: z.number() }).optional(),
      intents: z.array(z.object({ task_id: z.string(), actions: Strings })),
    })
    .optional(),
})
export type RecordedEvaluation = z.output<typeof RecordedEvaluation>

export type RecordedFacts = RecordedExchange | RecordedEvaluation
