// The callback's code redeemed at the provider's token endpoint (RFC 6749 §4.1.3, client_secret_basic,
// the PKCE verifier), and the ID token it returns validated (OIDC Core §3.1.3.7): oauth4webapi checks
// its claims against the provider's metadata; jose checks its signature against the Issuer document's
// keys and algorithms, with iss the document's `issuer` exactly and aud the login's clientId.
import { errors as joseErrors, type JWTPayload, jwtVerify } from 'jose'
import * as oauth from 'oauth4webapi'
import { keySetOf } from '../issuers/key-sets.ts'
import type { LoginIssuer } from '../issuers/login.ts'
import { httpOptions, type ProviderDeps } from './provider.ts'
import type { UpstreamFailure } from './reasons.ts'

export interface IdTokenDeps extends ProviderDeps {
  /** Seconds of clock difference allowed on exp and iat (MANDATE_CLOCK_TOLERANCE). */
  clockTolerance: number
}

export interface CodeRedemption {
  issuer: LoginIssuer
  metadata: oauth.AuthorizationServer
  /** The authorization response, as validated by authorizationAnswer. */
  answer: URLSearchParams
  redirectUri: string
  codeVerifier: string
  nonce: string
}

export type IdTokenClaims = JWTPayload & { sub: string; iss: string }

export type Redeemed = { ok: true; claims: IdTokenClaims } | { ok: false; reason: UpstreamFailure; detail: string }

const failure = (reason: UpstreamFailure, error: unknown): Redeemed & { ok: false } => ({
  ok: false,
  reason,
  detail:
    error instanceof oauth.ResponseBodyError
      ? `${error.error}${error.error_description ? `: ${error.error_description}` : ''}`
      : String(error),
})

/** oauth4webapi's client: the login's clientId, with the server's clock and clock tolerance. */
export const oauthClient = (issuer: LoginIssuer, deps: IdTokenDeps): oauth.Client => ({
  client_id: issuer.login.clientId,
  // oauth4webapi reads the system clock; the skew makes it read ours (a test may move it).
  [oauth.clockSkew]: deps.clock.now() - Math.floor(Date.now() / 1000),
  [oauth.clockTolerance]: deps.clockTolerance,
})

/**
 * The authorization response's parameters, or why they cannot be used: an error answer (RFC 6749
 * §4.1.2.1), an `iss` that is not the provider's (RFC 9207 §2.4), no code.
 */
export function authorizationAnswer(
  metadata: oauth.AuthorizationServer,
  client: oauth.Client,
  callback: URL,
  state: string,
): { ok: true; answer: URLSearchParams } | { ok: false; reason: UpstreamFailure; detail: string } {
  try {
    const answer = oauth.validateAuthResponse(metadata, client, callback, state)
    if (!answer.get('code')) return { ok: false, reason: 'response_invalid', detail: 'no code' }
    return { ok: true, answer }
  } catch (error) {
    if (error instanceof oauth.AuthorizationResponseError)
      return {
        ok: false,
        reason: error.error === 'access_denied' ? 'upstream_denied' : 'upstream_error',
        detail: error.error,
      }
    if (error instanceof oauth.OperationProcessingError || error instanceof oauth.UnsupportedOperationError)
      return failure('response_invalid', error)
    throw error
  }
}

export async function redeemCode(deps: IdTokenDeps, redemption: CodeRedemption): Promise<Redeemed> {
  const { issuer, metadata } = redemption
  const client = oauthClient(issuer, deps)
  let response: Response
  try {
    response = await oauth.authorizationCodeGrantRequest(
      metadata,
      client,
      oauth.ClientSecretBasic(issuer.login.clientSecret),
      redemption.answer,
      redemption.redirectUri,
      redemption.codeVerifier,
      httpOptions(deps.fetchOutbound),
    )
  } catch (error) {
    return failure('upstream_unavailable', error)
  }
  let idToken: string
  try {
    const tokens = await oauth.processAuthorizationCodeResponse(metadata, client, response, {
      expectedNonce: redemption.nonce,
      requireIdToken: true,
    })
    idToken = tokens.id_token as string
  } catch (error) {
    return failure(processingFailure(error), error)
  }
  return verifySignature(deps, redemption, idToken)
}

/** What a token response that oauth4webapi refused says about the provider or the ID token. */
function processingFailure(error: unknown): UpstreamFailure {
  if (error instanceof oauth.ResponseBodyError || error instanceof oauth.WWWAuthenticateChallengeError)
    return 'code_rejected'
  if (error instanceof oauth.OperationProcessingError) {
    const notOAuth: unknown[] = [oauth.RESPONSE_IS_NOT_CONFORM, oauth.RESPONSE_IS_NOT_JSON, oauth.PARSE_ERROR]
    return notOAuth.includes(error.code) ? 'upstream_error' : 'id_token_invalid'
  }
  if (error instanceof oauth.UnsupportedOperationError) return 'id_token_invalid'
  throw error
}

/** RFC 8725 §3.1, §3.8-3.10: the document's keys and algorithms, its issuer, our client, our nonce, our clock. */
async function verifySignature(deps: IdTokenDeps, redemption: CodeRedemption, idToken: string): Promise<Redeemed> {
  const { issuer } = redemption
  const now = deps.clock.now()
  try {
    const { payload } = await jwtVerify(idToken, keySetOf(issuer, deps.fetchOutbound), {
      issuer: issuer.issuer,
      audience: issuer.login.clientId,
      algorithms: issuer.algorithms,
      clockTolerance: deps.clockTolerance,
      currentDate: new Date(now * 1000),
      requiredClaims: ['sub', 'exp', 'iat', 'nonce'],
    })
    if (payload.nonce !== redemption.nonce) return { ok: false, reason: 'id_token_invalid', detail: 'nonce' }
    // jose checks iat only with maxTokenAge: an ID token from the future is refused here.
    if (typeof payload.iat !== 'number' || payload.iat > now + deps.clockTolerance)
      return { ok: false, reason: 'id_token_invalid', detail: 'iat' }
    if (typeof payload.sub !== 'string' || payload.sub === '')
      return { ok: false, reason: 'id_token_invalid', detail: 'sub' }
    return { ok: true, claims: payload as IdTokenClaims }
  } catch (error) {
    if (error instanceof joseErrors.JWKSTimeout) return failure('upstream_unavailable', error)
    if (error instanceof joseErrors.JOSEError) return failure('id_token_invalid', error)
    return failure('upstream_unavailable', error) // the key set could not be fetched
  }
}
