// The envelope every document shares (apiVersion, kind, metadata, spec), Kubernetes-style, so files
// in Git and `mandate apply` speak one format.
import * as z from 'zod'

export const API_VERSION = 'mandate/v1'

/** RFC 6749 §3.3 scope-token: printable ASCII except space, '"' and '\'. */
export const ScopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'not a valid scope token (RFC 6749 §3.3)')

const Labels = z.record(z.string().regex(/^[a-z0-9A-Z._/-]{1,63}$/), z.string().max(253))

export const Metadata = z.strictObject({
  name: z.string().min(1).max(200),
  description: z.string().min(1).max(1000).optional(),
  labels: Labels.optional(),
})

export function documentSchema<Kind extends string, Meta extends z.ZodType, Spec extends z.ZodType>(
  kind: Kind,
  metadata: Meta,
  spec: Spec,
) {
  return z.strictObject({ apiVersion: z.literal(API_VERSION), kind: z.literal(kind), metadata, spec })
}

/** A stored row's metadata as a document writes it: absent fields (and empty labels) left out, as they came. */
export function metadataOf(name: string, description: string | null, labels: unknown): z.input<typeof Metadata> {
  const named = labels !== null && typeof labels === 'object' && Object.keys(labels).length > 0
  return {
    name,
    ...(description === null ? {} : { description }),
    ...(named ? { labels: labels as Record<string, string> } : {}),
  }
}
