// Why an upstream sign-in failed: a closed list, logged and audited as is. The person is shown one
// generic message whatever the reason, so the list is no oracle (docs/upstream-sign-in.md).

export const UPSTREAM_FAILURES = [
  /** The callback carried no state. */
  'state_missing',
  /** The state is unknown, already used or expired (a state is used once, within 10 minutes). */
  'state_unknown',
  /** The Issuer document no longer signs people in (removed, or its `login` removed). */
  'issuer_unknown',
  /** The provider answered error=access_denied (the person declined, or may not use the client). */
  'upstream_denied',
  /** The provider answered another error, or a response that is not OAuth. */
  'upstream_error',
  /** The provider (discovery, token endpoint, keys) could not be reached in time, or the outbound rules refused it. */
  'upstream_unavailable',
  /** The authorization response broke the protocol (an `iss` not the provider's, no code). RFC 9207 §2.4. */
  'response_invalid',
  /** The token endpoint refused the code (invalid_grant, client authentication). RFC 6749 §5.2. */
  'code_rejected',
  /** No ID token, or one that fails validation: signature, iss, aud, nonce, exp or iat. OIDC Core §3.1.3.7. */
  'id_token_invalid',
  /** The identity's user is disabled. */
  'user_disabled',
  /** Every username this identity may get is taken (a user or a client_id). */
  'username_taken',
] as const
export type UpstreamFailure = (typeof UPSTREAM_FAILURES)[number]
