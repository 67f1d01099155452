// The console's side of OpenID Connect Core §3.1 (authorization code flow) against Mandate itself: the
// authorization request with PKCE (RFC 7636, S256), a state and a nonce; the code redeemed at the token
// endpoint with the client's secret; the ID token verified here (§3.1.3.7) with the server's own keys.
import { createHash, type KeyObject, randomBytes } from 'node:crypto'
import { type JWTPayload, jwtVerify } from 'jose'
import { ENDPOINTS } from '../oidc/endpoints.ts'
import { CONSOLE_CLIENT } from '../admin/console-client.ts'

export interface ConsoleRelyingParty {
  issuer: string
  redirectUri: string
  secret: string
  /** The server's published key of this kid, or undefined. */
  verificationKey(kid: string): Promise<KeyObject | undefined>
  now(): number
  clockTolerance: number
}

const random = () => randomBytes(32).toString('base64url')

export function newSignIn(rp: ConsoleRelyingParty) {
  const state = random()
  const nonce = random()
  const verifier = random()
  const challenge = createHash('sha256').update(verifier).digest('base64url')
  const url = new URL(`${rp.issuer}${ENDPOINTS.authorization}`)
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: CONSOLE_CLIENT,
    redirect_uri: rp.redirectUri,
    scope: 'openid',
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString()
  return { url, pending: { state, nonce, code_verifier: verifier } }
}

export type Redeemed = { ok: true; username: string } | { ok: false; reason: string }

/** The code redeemed and the ID token checked: who signed in, or why not. */
export async function redeemCode(
  rp: ConsoleRelyingParty,
  code: string,
  pending: { code_verifier: string; nonce: string },
): Promise<Redeemed> {
  const response = await fetch(`${rp.issuer}${ENDPOINTS.token}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      // RFC 6749 §2.3.1: form-encoded, then Basic.
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(CONSOLE_CLIENT)}:${encodeURIComponent(rp.secret)}`).toString('base64')}`,
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: rp.redirectUri,
      code_verifier: pending.code_verifier,
    }),
    signal: AbortSignal.timeout(10_000),
  })
  const body = (await response.json().catch(() => ({}))) as { id_token?: unknown; error?: unknown }
  if (!response.ok || typeof body.id_token !== 'string')
    return { ok: false, reason: `token endpoint: ${String(body.error ?? response.status)}` }
  let claims: JWTPayload
  try {
    ;({ payload: claims } = await jwtVerify(
      body.id_token,
      async (header) => {
        const key = header.kid ? await rp.verificationKey(header.kid) : undefined
        if (!key) throw new Error('unknown key')
        return key
      },
      {
        issuer: rp.issuer,
        audience: CONSOLE_CLIENT,
        algorithms: ['ES256'],
        currentDate: new Date(rp.now() * 1000),
        clockTolerance: rp.clockTolerance,
        requiredClaims: ['sub', 'exp', 'iat', 'nonce'],
      },
    ))
  } catch {
    return { ok: false, reason: 'id_token invalid' }
  }
  // §3.1.3.7 item 11: the nonce sent with this browser's request, so a token for another request is refused.
  if (claims.nonce !== pending.nonce || typeof claims.sub !== 'string') return { ok: false, reason: 'nonce mismatch' }
  return { ok: true, username: claims.sub }
}
