// `kind: PolicyPath` — a named, versioned policy. Paths form a tree by their "/"-separated names;
// a document at `acme` constrains everything below it. Every field is optional: an absent field
// does not constrain at that level (see effective.ts for how levels combine).
import * as z from 'zod'
import { BoundGrantType } from '../clients/schema.ts'
import { ActionRules } from './actions.ts'
import { Duration } from '../lib/duration.ts'
import { documentSchema, Metadata, ScopeToken } from '../documents/envelope.ts'
import { ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE } from '../oauth/protocol.ts'

const SubjectTokenType = z.enum([ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE])

/** "self" is Mandate's own tokens; any other value names a `kind: Issuer` document. */
export const SELF_ISSUER = 'self'

const PathName = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9-]{0,62}(\/[a-z0-9][a-z0-9-]{0,62}){0,7}$/,
    'a path is up to 8 "/"-separated segments of lowercase letters, digits and "-"',
  )

const DelegationMode = z.enum(['delegation', 'impersonation', 'either'])

export const Binding = z.strictObject({
  client: z.string().min(1),
  resource: z.url(),
  grantType: BoundGrantType,
})
export type Binding = z.output<typeof Binding>

export const PolicyPathSpec = z.strictObject({
  bindings: z.array(Binding).default([]),
  scopes: z.array(ScopeToken).optional(),
  tokenLifetime: Duration.optional(),
  subjectTokens: z
    .strictObject({
      issuers: z.array(z.string().min(1)).min(1).optional(),
      types: z.array(SubjectTokenType).min(1).optional(),
      // Clients whose own tokens may be exchanged here by another client (besides the caller's own
      // tokens and tokens of listed actors already in the chain). Their holder joins the new chain.
      holders: z.array(z.string().min(1)).optional(),
    })
    .optional(),
  delegation: z
    .strictObject({
      mode: DelegationMode.optional(),
      actors: z.array(z.string().min(1)).optional(),
      maxDepth: z.number().int().min(1).max(10).optional(),
      // Clients that may present another actor's actor_token and act as that actor (RFC 8693 §2.1).
      intermediaries: z
        .array(z.strictObject({ client: z.string().min(1), actors: z.array(z.string().min(1)).min(1) }))
        .optional(),
    })
    .optional(),
  task: z.strictObject({ required: z.boolean().optional(), maxLifetime: Duration.optional() }).optional(),
  // RFC 9449: tokens of this path's bindings are issued only to a request carrying a DPoP proof.
  requireDpop: z.boolean().optional(),
  // Runtime authorization (AuthZEN evaluations): the actions allowed at this level; declaring any makes every
  // undeclared action denied (docs/runtime-authorization.md).
  actions: ActionRules.optional(),
})
export type PolicyPathSpec = z.output<typeof PolicyPathSpec>

export const PolicyPathDocument = documentSchema(
  'PolicyPath',
  Metadata.extend({ name: PathName, owner: z.string().min(1).max(200).optional() }),
  PolicyPathSpec,
)
export type PolicyPathDocument = z.output<typeof PolicyPathDocument>

/** `acme/support/tickets-write` → ['acme', 'acme/support', 'acme/support/tickets-write']. */
export const ancestorsOf = (path: string): string[] =>
  path.split('/').map((_, index, parts) => parts.slice(0, index + 1).join('/'))
