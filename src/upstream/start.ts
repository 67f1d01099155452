// The first leg of an upstream sign-in: send the person to the provider's authorization endpoint with a
// fresh state, nonce and PKCE challenge (RFC 7636 §4, S256), kept in upstream_logins for the callback.
import type { Kysely } from 'kysely'
import * as oauth from 'oauth4webapi'
import type { DB } from '../db/schema.ts'
import type { LoginIssuer } from '../issuers/login.ts'
import { toDate } from '../lib/clock.ts'
import { type ProviderDeps, providerMetadata } from './provider.ts'
import { recordUpstreamLogin } from './store.ts'

/** Seconds a person has to come back from the provider. */
export const UPSTREAM_LOGIN_LIFETIME = 600

export interface UpstreamDeps extends ProviderDeps {
  db: Kysely<DB>
}

export interface UpstreamStart {
  /** The issuer to sign in at (catalog.loginIssuers()). */
  issuer: LoginIssuer
  /** The oidc-provider interaction the person returns to. */
  interactionUid: string
  /** Mandate's callback, `${MANDATE_ISSUER}/login/callback`, registered at the provider. */
  redirectUri: string
}

/**
 * The provider's authorization URL for this person. Throws DependencyUnavailable when the provider's
 * metadata cannot be had.
 */
export async function startUpstreamSignIn(deps: UpstreamDeps, request: UpstreamStart): Promise<URL> {
  const { issuer, interactionUid, redirectUri } = request
  const metadata = await providerMetadata(issuer, deps)
  const state = oauth.generateRandomState()
  const nonce = oauth.generateRandomNonce()
  const code_verifier = oauth.generateRandomCodeVerifier()
  await recordUpstreamLogin(deps.db, {
    state,
    issuer: issuer.name,
    interaction_uid: interactionUid,
    code_verifier,
    nonce,
    expires_at: toDate(deps.clock.now() + UPSTREAM_LOGIN_LIFETIME),
  })
  const url = new URL(metadata.authorization_endpoint as string)
  const params = {
    client_id: issuer.login.clientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: issuer.login.scopes.join(' '),
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(code_verifier),
    code_challenge_method: 'S256',
  }
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value)
  return url
}
