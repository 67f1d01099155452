// The callback leg of an upstream sign-in, top to bottom: take the state (once), find the issuer, check
// the authorization response, redeem the code, validate the ID token, and map the identity to a Mandate
// user. Every failure is a reason of the closed list (reasons.ts); database outages and bugs propagate.
import type { LoginIssuer } from '../issuers/login.ts'
import { toDate } from '../lib/clock.ts'
import { authorizationAnswer, type IdTokenDeps, oauthClient, redeemCode } from './id-token.ts'
import { signInIdentity } from './identities.ts'
import { providerMetadata } from './provider.ts'
import type { UpstreamFailure } from './reasons.ts'
import type { UpstreamDeps } from './start.ts'
import { takeUpstreamLogin } from './store.ts'

export interface FinishDeps extends UpstreamDeps, IdTokenDeps {
  /** The issuer of this name, when it still signs people in (catalog.loginIssuer of the current generation). */
  loginIssuer(name: string): LoginIssuer | undefined | Promise<LoginIssuer | undefined>
}

export interface UpstreamCallback {
  /** The URL the provider sent the person back to, with its query (code, state, iss; or error). */
  callbackUrl: URL
  /** The redirect_uri the sign-in started with (`${MANDATE_ISSUER}/login/callback`). */
  redirectUri: string
  /** The interaction of the browser that brought the callback: only a state issued for it is taken. */
  interactionUid?: string
  /** For the audit event of a user created now. */
  requestId?: string | null
}

export type UpstreamSignIn =
  | { ok: true; interactionUid: string; username: string; created: boolean }
  | {
      ok: false
      /** The interaction to send the person back to; absent when the state was missing or unknown. */
      interactionUid?: string
      reason: UpstreamFailure
      /** For the log line only: never shown to the person. */
      detail?: string
    }

export async function finishUpstreamSignIn(deps: FinishDeps, request: UpstreamCallback): Promise<UpstreamSignIn> {
  const state = request.callbackUrl.searchParams.get('state')
  if (!state) return { ok: false, reason: 'state_missing' }
  const now = deps.clock.now()
  // Taken before anything else is checked: whatever happens next, this state is spent.
  const login = await takeUpstreamLogin(deps.db, state, toDate(now), request.interactionUid)
  if (!login) return { ok: false, reason: 'state_unknown' }
  const interactionUid = login.interaction_uid
  const failed = (reason: UpstreamFailure, detail?: string): UpstreamSignIn => ({
    ok: false,
    interactionUid,
    reason,
    ...(detail === undefined ? {} : { detail }),
  })

  const issuer = await deps.loginIssuer(login.issuer)
  if (!issuer) return failed('issuer_unknown', login.issuer)
  let metadata: Awaited<ReturnType<typeof providerMetadata>>
  try {
    metadata = await providerMetadata(issuer, deps)
  } catch (error) {
    return failed('upstream_unavailable', String((error as Error).cause ?? error))
  }
  const answer = authorizationAnswer(metadata, oauthClient(issuer, deps), request.callbackUrl, state)
  if (!answer.ok) return failed(answer.reason, answer.detail)
  const redeemed = await redeemCode(deps, {
    issuer,
    metadata,
    answer: answer.answer,
    redirectUri: request.redirectUri,
    codeVerifier: login.code_verifier,
    nonce: login.nonce,
  })
  if (!redeemed.ok) return failed(redeemed.reason, redeemed.detail)

  const user = await signInIdentity(
    deps.db,
    { issuer: issuer.name, upstream_iss: redeemed.claims.iss, claims: redeemed.claims },
    { now: deps.clock.now(), requestId: request.requestId ?? null },
  )
  if (!user.ok) return failed(user.reason)
  return { ok: true, interactionUid, username: user.username, created: user.created }
}
