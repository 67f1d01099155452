// `kind: Resource` — a resource server, named by its RFC 8707 resource indicator.
import * as z from 'zod'
import { Duration } from '../lib/duration.ts'
import { documentSchema, Metadata, ScopeToken } from '../documents/envelope.ts'

// RFC 8707 §2: an absolute URI without a fragment component.
const ResourceIndicator = z.url().refine((uri) => !uri.includes('#'), 'a resource indicator must not have a fragment')

// A scope is named alone or with the plain words the consent page shows for it.
const Scope = z.union([ScopeToken, z.strictObject({ name: ScopeToken, description: z.string().min(1).max(300) })])

export const ResourceDocument = documentSchema(
  'Resource',
  Metadata.extend({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a name is lowercase letters, digits and "-"'),
  }),
  z.strictObject({
    uri: ResourceIndicator,
    scopes: z.array(Scope).default([]),
    introspectors: z.array(z.string().min(1)).default([]),
    accessTokenLifetime: Duration.prefault('5m'),
    // Where a signed Security Event Token (RFC 8417) is POSTed when a task touching this resource completes.
    revocationWebhook: z.url({ protocol: /^https?$/ }).optional(),
  }),
)
export type ResourceDocument = z.output<typeof ResourceDocument>

/** The scope names of a Resource document, in order, once each. */
export const scopeNames = (spec: ResourceDocument['spec']): string[] => [
  ...new Set(spec.scopes.map((scope) => (typeof scope === 'string' ? scope : scope.name))),
]

/** {scope: description} for the scopes a Resource document describes. */
export const scopeDescriptions = (spec: ResourceDocument['spec']): Record<string, string> =>
  Object.fromEntries(
    spec.scopes.flatMap((scope) => (typeof scope === 'string' ? [] : [[scope.name, scope.description]])),
  )
