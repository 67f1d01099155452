// `kind: Resource` — a resource server, named by its RFC 8707 resource indicator.
import * as z from 'zod'
import { Duration } from '../lib/duration.ts'
import { documentSchema, Metadata, ScopeToken } from '../documents/envelope.ts'

// RFC 8707 §2: an absolute URI without a fragment component.
const ResourceIndicator = z.url().refine((uri) => !uri.includes('#'), 'a resource indicator must not have a fragment')

export const ResourceDocument = documentSchema(
  'Resource',
  Metadata.extend({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a name is lowercase letters, digits and "-"'),
  }),
  z.strictObject({
    uri: ResourceIndicator,
    scopes: z.array(ScopeToken).default([]),
    introspectors: z.array(z.string().min(1)).default([]),
    accessTokenLifetime: Duration.prefault('5m'),
    // Where a signed Security Event Token (RFC 8417) is POSTed when a task touching this resource completes.
    revocationWebhook: z.url({ protocol: /^https?$/ }).optional(),
  }),
)
export type ResourceDocument = z.output<typeof ResourceDocument>
