// What a simulation is asked (issue 13: `POST /admin/v1/policy-paths:simulate`, `mandate policy simulate`, the
// cases of `mandate policy test`): a token request described by its facts, not by tokens. One schema for the
// contract; the subject and actor tokens are their claims (a decoded JWT payload may be pasted as it is).
import * as z from 'zod'
import { ScopeToken } from '../documents/envelope.ts'
import { ACCESS_TOKEN_TYPE, CLIENT_CREDENTIALS, JWT_TOKEN_TYPE, TOKEN_EXCHANGE } from '../oauth/protocol.ts'
import { type ActClaim, actorsOf, identityOnly } from '../policy/act-claim.ts'

/** The longest chain a request may describe (the decision refuses far shorter ones: maxDepth ≤ 10). */
const MAX_CHAIN = 16

const Name = z.string().min(1).max(500)
const Scope = z.union([z.string().max(4000), z.array(ScopeToken).max(100)])

/** RFC 8693 §4.1: {sub, iss?, act?}, nested; anything else in it is not carried (identityOnly). */
const Act = z.custom<ActClaim>((value) => identityOnly(value) !== undefined, 'act is {sub, iss?, act?}, nested')

/** RFC 7800 / RFC 9449 §6.1: the key a token is bound to. */
const Cnf = z.looseObject({ jkt: z.string().min(1).max(200) })

const SubjectClaims = z.looseObject({
  sub: Name,
  /** Absent, "self" or our issuer URL: one of our own tokens; otherwise a trusted Issuer's `iss` (or its name). */
  iss: Name.optional(),
  scope: Scope.optional(),
  /** Scope as a list (some issuers' `scp`); `scope` wins when both are present. */
  scp: z.array(z.string()).max(100).optional(),
  act: Act.optional(),
  may_act: z.looseObject({ sub: Name.optional(), client_id: Name.optional(), iss: Name.optional() }).optional(),
  /** Our own token: the client it was issued to. */
  client_id: Name.optional(),
  /** Epoch seconds; absent: the subject token outlives everything else. */
  exp: z.number().int().positive().optional(),
  cnf: Cnf.optional(),
  /** Our own token of a task passes its task on. */
  task_id: Name.optional(),
  /** Our own token: the Issuer that vouched for sub at the root of its chain (default: read by jti, else self). */
  origin: Name.optional(),
  jti: Name.optional(),
})

const ActorClaims = z.looseObject({
  /** The client the actor token was issued to (default: actor_chain[0]). */
  client_id: Name.optional(),
  sub: Name.optional(),
  act: Act.optional(),
  exp: z.number().int().positive().optional(),
  cnf: Cnf.optional(),
  origin: Name.optional(),
})

/** A task that is not stored (or, offline, cannot be read): what the task rules read of it. */
export const TaskDescription = z.strictObject({
  id: Name.default('simulated-task'),
  /** The task's agent (default: the acting client). */
  client_id: Name.optional(),
  /** The person it is for (default: the subject's sub and origin). */
  delegator: Name.optional(),
  delegator_issuer: Name.optional(),
  /** default: the requested resources. */
  resources: z.array(z.string().min(1)).max(10).optional(),
  /** default: no bound but the others. */
  scope: z.array(ScopeToken).max(100).optional(),
  /** Seconds from now until it expires (default 1h). */
  expires_in: z.number().int().min(0).max(31_536_000).default(3600),
  /** false: completed (or under a completed task). */
  live: z.boolean().default(true),
  /** The paths it was created under (default: the bound path): their actors may work on it as sub-agents. */
  policy_paths: z.array(Name).max(10).optional(),
  /** Its declared intent (null: none declared). */
  actions: z.array(Name).max(100).nullable().default(null),
})
export type TaskDescription = z.output<typeof TaskDescription>

const GrantType = z
  .enum([TOKEN_EXCHANGE, 'token-exchange', CLIENT_CREDENTIALS])
  .transform((grant) => (grant === 'token-exchange' ? TOKEN_EXCHANGE : grant))

const asList = (scope: string | readonly string[] | undefined): string[] | undefined =>
  scope === undefined ? undefined : typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [...scope]

export const SimulationRequest = z
  .strictObject({
    client_id: Name,
    /** RFC 8707 resource URIs, or registered Resource names (RFC 8693 audience). */
    resource: z.union([Name, z.array(Name).min(1).max(10)]).transform((r) => (typeof r === 'string' ? [r] : r)),
    grant_type: GrantType.default(TOKEN_EXCHANGE),
    /** The subject token's claims (token exchange). */
    subject: SubjectClaims.optional(),
    subject_token_type: z.enum([ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE]).default(ACCESS_TOKEN_TYPE),
    /** Who acts, current first: [the acting client or the actor it presents, ...the subject's earlier actors]. */
    actor_chain: z.array(Name).min(1).max(MAX_CHAIN).optional(),
    /** The actor token's claims, when one is presented. */
    actor_token: ActorClaims.optional(),
    /** Requested scope (absent or empty: everything allowed, as the grants read an empty scope parameter). */
    scope: Scope.optional().transform((scope) => {
      const list = asList(scope)
      return list && list.length > 0 ? list : undefined
    }),
    /** A stored task's id, or a task described. */
    task: z.union([Name, TaskDescription]).optional(),
    /** Also decide this action (runtime authorization) for the token that would be issued. */
    action: Name.optional(),
    /** RFC 9449: the thumbprint of the request's DPoP proof key, when it carries one. */
    dpop_jkt: z.string().min(1).max(200).optional(),
  })
  .superRefine((request, ctx) => {
    if (request.grant_type === TOKEN_EXCHANGE && !request.subject)
      ctx.addIssue({ code: 'custom', path: ['subject'], message: 'a token exchange needs the subject token claims' })
    if (request.grant_type === CLIENT_CREDENTIALS && request.resource.length !== 1)
      ctx.addIssue({ code: 'custom', path: ['resource'], message: 'client_credentials is simulated for one resource' })
    const earlier = request.actor_chain?.slice(1)
    const act = request.subject?.act
    if (act && earlier && earlier.length > 0 && earlier.join(' ') !== actorsOf(identityOnly(act)).join(' '))
      ctx.addIssue({
        code: 'custom',
        path: ['actor_chain'],
        message: "actor_chain after its first entry must be the subject's act chain",
      })
  })
export type SimulationRequest = z.output<typeof SimulationRequest>
export type SimulationRequestInput = z.input<typeof SimulationRequest>

/** The subject's scope claim as a list (undefined: it has none). */
export const subjectScope = (claims: { scope?: string | string[] | undefined; scp?: string[] | undefined }) =>
  asList(claims.scope) ?? claims.scp
