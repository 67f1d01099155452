// Who is calling: the Authorization header read (RFC 6750 §2.1), the token verified (RFC 9068 §4), its
// DPoP binding proven (RFC 9449 §7), the route's scopes checked (RFC 6750 §3.1). Every refusal is
// the exact reply to send; an unreachable issuer is a 503, never a token verdict.
import type { ProofCheck, ProofInput } from './dpop-proof.ts'
import {
  type ChallengeContext,
  DESCRIPTIONS,
  insufficientScope,
  invalidProof,
  invalidToken,
  malformed,
  noToken,
  unavailable,
} from './refusals.ts'
import type { Reply, Scheme } from './reply.ts'
import { header, publicUrl, readCredentials, type RequestLike } from './request.ts'
import type { AccessTokenClaims, TokenCheck } from './verify-token.ts'

export interface Authenticated {
  ok: true
  /** The token as presented (what authorize() sends Mandate). */
  token: string
  scheme: Scheme
  claims: AccessTokenClaims
  scopes: string[]
}

export interface Refused {
  ok: false
  reply: Reply
}

export interface AuthenticateDeps {
  ctx: ChallengeContext
  /** Where clients reach this resource (scheme, host, port): what DPoP proofs name. */
  origin: string
  verify(token: string): Promise<TokenCheck>
  verifyProof(input: ProofInput): Promise<ProofCheck>
  onError?: ((error: unknown) => void) | undefined
}

/** Scopes the request needs, all of them: a space-separated string or a list. */
export type RequiredScope = string | readonly string[]

const refuse = (reply: Reply): Refused => ({ ok: false, reply })

export function authenticator(deps: AuthenticateDeps) {
  const { ctx } = deps
  return async function authenticate(request: RequestLike, scope?: RequiredScope): Promise<Authenticated | Refused> {
    const credentials = readCredentials(header(request.headers, 'authorization'))
    if (credentials.kind === 'none') return refuse(noToken(ctx))
    if (credentials.kind === 'malformed') return refuse(malformed(ctx))
    const { scheme, token } = credentials
    const checked = await deps.verify(token)
    if (!checked.ok) {
      if (checked.problem !== 'unavailable') return refuse(invalidToken(ctx, scheme, DESCRIPTIONS[checked.problem]))
      deps.onError?.(checked.cause)
      return refuse(unavailable())
    }
    const { claims } = checked
    const jkt = claims.cnf?.jkt
    if (jkt === undefined) {
      if (scheme === 'DPoP') return refuse(invalidToken(ctx, 'DPoP', DESCRIPTIONS.notBound))
      if (ctx.dpopRequired) return refuse(invalidToken(ctx, 'DPoP', DESCRIPTIONS.bindingRequired))
    } else {
      // RFC 9449 §7.2: a bound token presented as a bearer token is refused, pointing at the DPoP scheme.
      if (scheme === 'Bearer') return refuse(invalidToken(ctx, 'DPoP', DESCRIPTIONS.boundAsBearer))
      const proof = await deps.verifyProof({
        header: header(request.headers, 'dpop'),
        method: request.method.toUpperCase(),
        url: publicUrl(request.url, deps.origin) ?? '',
        token,
        jkt,
        now: Math.floor(Date.now() / 1000),
      })
      if (!proof.ok) {
        return refuse(
          invalidProof(ctx, proof.problem === 'missing' ? DESCRIPTIONS.proofRequired : DESCRIPTIONS.proofInvalid),
        )
      }
    }
    const scopes = claims.scope ? claims.scope.split(' ').filter(Boolean) : []
    const needed = typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [...(scope ?? [])]
    if (!needed.every((s) => scopes.includes(s))) return refuse(insufficientScope(ctx, scheme, needed))
    return { ok: true, token, scheme, claims, scopes }
  }
}
