// oidc-provider refuses structured tokens at introspection and revocation. This pre-middleware
// verifies a presented JWT access token (signature first: a forged JWT naming a real jti must
// find nothing) and hands the built-in endpoints its jti, which the adapter resolves from lineage.
// An unverified JWT is replaced too. Any other value passes as it is: opaque refresh and userinfo tokens
// are found only by their full value in oidc_payloads, where no JWT's jti has a row, so a bare jti (not a
// secret: it is in logs and the admin API) still never stands in for the token it names.
import { randomUUID } from 'node:crypto'
import type { Context, Next } from 'koa'
import { bufferedBody } from '../http/bounded-body.ts'
import { replayBody } from '../http/replay-body.ts'
import type { OurAccessToken } from '../keys/verify-access-token.ts'
import { TemporarilyUnavailable } from './errors.ts'

const bridged = new Set(['/token/introspection', '/token/revocation'])
// Any JWS or JWE compact form, including an unsecured JWT with an empty signature part.
const looksLikeJwt = (value: string) => /^[\w-]*(\.[\w-]*){2}$|^[\w-]*(\.[\w-]*){4}$/.test(value)

export function jwtBridge(
  verify: (token: string) => Promise<OurAccessToken | undefined>,
  /** Called with a verified token's jti, before the endpoint runs (the adapter starts its lookup). */
  onVerified: (ctx: Context, jti: string) => void = () => {},
) {
  return async function bridgeJwtAccessTokens(ctx: Context, next: Next): Promise<void> {
    if (ctx.method !== 'POST' || !bridged.has(ctx.path) || !ctx.is('application/x-www-form-urlencoded')) return next()
    // boundedBody received the body (bounded in size and time) before any endpoint runs.
    const params = new URLSearchParams(bufferedBody(ctx)?.toString('utf8') ?? '')
    const presented = params.getAll('token')
    let verified: OurAccessToken | undefined
    if (presented.length === 1) {
      if (looksLikeJwt(presented[0] as string)) {
        try {
          verified = await verify(presented[0] as string)
        } catch (error) {
          throw new TemporarilyUnavailable({ cause: error })
        }
      }
      // An unverified JWT becomes a value no lookup can find: active:false, or a no-op revocation.
      if (verified || looksLikeJwt(presented[0] as string))
        params.set('token', verified?.jti ?? `${UNVERIFIED}${randomUUID()}`)
      if (verified) {
        markVerified(ctx, verified.jti)
        onVerified(ctx, verified.jti)
      }
    }
    replayBody(ctx, Buffer.from(params.toString()))
    await next()
    // oidc-provider omits jti when it equals the presented value (here, the swapped-in jti).
    const body = ctx.body as Record<string, unknown> | undefined
    if (verified && body?.active === true) ctx.body = { ...body, jti: verified.jti }
  }
}

const UNVERIFIED = 'unverified-'

/** A value the bridge put in place of a JWT it could not verify: no model holds it, so none is looked up. */
export const isUnverifiedStandIn = (value: string): boolean => value.startsWith(UNVERIFIED)

const verifiedJtis = new WeakMap<object, string>()

/** Records that this request presented, and we verified, the token with this jti. */
const markVerified = (ctx: Context, jti: string) => void verifiedJtis.set(ctx, jti)

/** True only for the jti of a token verified in this same request (see the adapter). */
export const isVerifiedInRequest = (ctx: object | undefined, jti: string): boolean =>
  ctx !== undefined && verifiedJtis.get(ctx) === jti
