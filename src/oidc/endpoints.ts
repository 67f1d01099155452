// The oidc-provider endpoints Mandate serves: discovery, JWKS, token, introspection, revocation. Every
// other one is off: an endpoint nobody needs is attack surface, and some write without authentication
// (GET /session/end stored a session row).
import type { Route } from '../http/routes.ts'

/** Features that add routes, switched off (authorization, resume and logout confirm have no switch). */
export const UNUSED_ENDPOINTS_OFF = {
  userinfo: { enabled: false },
  rpInitiatedLogout: { enabled: false },
  pushedAuthorizationRequests: { enabled: false },
} as const

/** What the route guard lets through to the provider; OPTIONS is oidc-provider's CORS preflight. */
export const OIDC_ROUTES: readonly Route[] = [
  { path: '/.well-known/openid-configuration', methods: ['GET', 'OPTIONS'] },
  { path: '/.well-known/oauth-authorization-server', methods: ['GET', 'OPTIONS'] },
  { path: '/jwks', methods: ['GET', 'OPTIONS'] },
  { path: '/token', methods: ['POST', 'OPTIONS'] },
  { path: '/token/introspection', methods: ['POST', 'OPTIONS'] },
  { path: '/token/revocation', methods: ['POST', 'OPTIONS'] },
]

/** RFC 8414 §2 members about endpoints (or their parameters) that are not served. */
const UNSERVED_METADATA = [
  'authorization_endpoint',
  'end_session_endpoint',
  'userinfo_endpoint',
  'pushed_authorization_request_endpoint',
  'require_pushed_authorization_requests',
  'response_modes_supported',
  'code_challenge_methods_supported',
  'authorization_response_iss_parameter_supported',
  'request_uri_parameter_supported',
  'claims_parameter_supported',
]

export function dropUnservedMetadata(metadata: Record<string, unknown>): void {
  for (const member of UNSERVED_METADATA) delete metadata[member]
}
