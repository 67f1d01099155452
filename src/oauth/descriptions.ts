// The public descriptions of refused OAuth requests, shared by the token endpoint and the tasks API so
// both say exactly the same (RFC 8693 §2.2.2: one face for every token problem, no oracle).

/** Any problem with a subject_token, actor_token or task: unknown, expired, revoked, foreign or unacceptable. */
export const TOKEN_INVALID = 'the subject_token, actor_token or task_id is invalid'
/** RFC 8707 §2: the resource is invalid, missing, unknown or not allowed. */
export const RESOURCE_INVALID = 'the resource is missing, unknown or not allowed for this client'
/** RFC 6749 §5.2 invalid_scope; the refused value is the caller's own input, never echoed. */
export const SCOPE_INVALID = 'the requested scope is not allowed'
/** RFC 6749 §5.2 unauthorized_client. */
export const GRANT_NOT_ALLOWED = 'the client is not allowed to use this grant type'
