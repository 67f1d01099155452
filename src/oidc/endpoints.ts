// The oidc-provider endpoints Mandate serves, and nothing else: an endpoint nobody needs is attack
// surface. Registration, device flow, CIBA and the development interactions stay off; the sign-in pages
// (src/sign-in/) answer the interaction routes.
import type { Route } from '../http/routes.ts'

/** oidc-provider's routes, named once: discovery, the guard below and our pages all read these. */
export const ENDPOINTS = {
  authorization: '/auth',
  token: '/token',
  introspection: '/token/introspection',
  revocation: '/token/revocation',
  userinfo: '/me',
  end_session: '/session/end',
  pushed_authorization_request: '/request',
  jwks: '/jwks',
} as const

/** What the route guard lets through to the provider; OPTIONS is oidc-provider's CORS preflight. */
export const OIDC_ROUTES: readonly Route[] = [
  { path: '/.well-known/openid-configuration', methods: ['GET', 'OPTIONS'] },
  { path: '/.well-known/oauth-authorization-server', methods: ['GET', 'OPTIONS'] },
  { path: ENDPOINTS.jwks, methods: ['GET', 'OPTIONS'] },
  { path: ENDPOINTS.token, methods: ['POST', 'OPTIONS'] },
  { path: ENDPOINTS.introspection, methods: ['POST', 'OPTIONS'] },
  { path: ENDPOINTS.revocation, methods: ['POST', 'OPTIONS'] },
  // OpenID Connect Core §3.1.2.1: GET and POST; /auth/{uid} resumes a request after its interaction.
  { path: ENDPOINTS.authorization, methods: ['GET', 'POST'] },
  { path: /^\/auth\/[\w-]{1,64}$/, methods: ['GET'] },
  { path: ENDPOINTS.pushed_authorization_request, methods: ['POST', 'OPTIONS'] },
  { path: ENDPOINTS.userinfo, methods: ['GET', 'POST', 'OPTIONS'] },
  { path: ENDPOINTS.end_session, methods: ['GET', 'POST'] },
  { path: `${ENDPOINTS.end_session}/confirm`, methods: ['POST'] },
  { path: `${ENDPOINTS.end_session}/success`, methods: ['GET'] },
]
