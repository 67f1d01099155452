// The OAuth protocol's own names, in one place: grant types and token types (RFC 6749, RFC 8693 §3).
// Mandate's words (scopes, issuers) live with their documents; these are the standards'.

/** RFC 6749 §4.4. */
export const CLIENT_CREDENTIALS = 'client_credentials'
/** RFC 6749 §4.1 (with PKCE, RFC 7636, for every client). */
export const AUTHORIZATION_CODE = 'authorization_code'
/** RFC 6749 §6. */
export const REFRESH_TOKEN = 'refresh_token'
/** RFC 8693 §2.1. */
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'

/** RFC 8693 §3: an OAuth access token (ours are RFC 9068 JWTs). */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'
/** RFC 8693 §3: a JWT. */
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt'
/** The token types accepted as subject and actor tokens (RFC 8693 §3), at the token endpoint and the tasks API. */
export const TOKEN_TYPES: ReadonlySet<string> = new Set([ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE])
