// RFC 9728 protected-resource metadata: the document, where it lives (§3.1) and the check of the
// resource identifier it is derived from (§1.2). Pure.

export const WELL_KNOWN = '/.well-known/oauth-protected-resource'

/** RFC 9728 §2 members this helper can state truthfully. */
export interface ProtectedResourceMetadata {
  resource: string
  authorization_servers: string[]
  bearer_methods_supported: ['header']
  scopes_supported?: string[]
  resource_name?: string
  dpop_signing_alg_values_supported: string[]
  dpop_bound_access_tokens_required: boolean
}

export interface MetadataInput {
  resource: string
  issuer: string
  resourceName?: string | undefined
  scopesSupported?: readonly string[] | undefined
  dpopAlgorithms: readonly string[]
  dpopRequired: boolean
}

export function protectedResourceMetadata(input: MetadataInput): ProtectedResourceMetadata {
  return {
    resource: input.resource,
    authorization_servers: [input.issuer],
    // Only the Authorization header (RFC 6750 §2.1): form bodies and query strings leak tokens.
    bearer_methods_supported: ['header'],
    ...(input.scopesSupported ? { scopes_supported: [...input.scopesSupported] } : {}),
    ...(input.resourceName ? { resource_name: input.resourceName } : {}),
    dpop_signing_alg_values_supported: [...input.dpopAlgorithms],
    dpop_bound_access_tokens_required: input.dpopRequired,
  }
}

/** RFC 9728 §1.2: an https (or, for development, http) URI with no query and no fragment. */
export function checkResourceUri(resource: string): URL {
  const url = URL.parse(resource)
  if (
    !url ||
    (url.protocol !== 'https:' && url.protocol !== 'http:') ||
    url.search ||
    url.hash ||
    resource.includes('#')
  ) {
    throw new TypeError(`resource must be an absolute http(s) URI without query or fragment: ${resource}`)
  }
  return url
}

/** RFC 9728 §3.1: the well-known segment goes between the host and the path; a lone "/" path is dropped. */
export function metadataPath(resource: string): string {
  const { pathname } = checkResourceUri(resource)
  return pathname === '/' ? WELL_KNOWN : `${WELL_KNOWN}${pathname}`
}

/** The URL named by resource_metadata in every challenge (RFC 9728 §5.1). */
export const metadataUrl = (resource: string): string => `${checkResourceUri(resource).origin}${metadataPath(resource)}`

/** The paths the helper answers: the §3.1 form, and the bare well-known path for clients that probe it. */
export const metadataPaths = (resource: string): string[] => [...new Set([metadataPath(resource), WELL_KNOWN])]
