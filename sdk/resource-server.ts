// mandate/resource-server: what a resource server needs to accept Mandate's access tokens. A
// framework-neutral core (authenticate, authorize, metadata) and thin koa, express and fetch adapters.
// Imports only jose and node: builtins; see docs/resource-server-helper.md.
import { cachedDecisions } from './resource-server/decisions.ts'
import { proofVerifier, DPOP_ALGORITHMS } from './resource-server/dpop-proof.ts'
import { evaluationClient } from './resource-server/evaluation-client.ts'
import type { Evaluation, EvaluationRequest, Semantic } from './resource-server/evaluation.ts'
import type { FetchLike } from './resource-server/fetch.ts'
import {
  checkResourceUri,
  metadataPaths,
  metadataUrl,
  type ProtectedResourceMetadata,
  protectedResourceMetadata,
} from './resource-server/metadata.ts'
import {
  DESCRIPTIONS,
  type ChallengeContext,
  insufficientScope,
  invalidProof,
  invalidToken,
  malformed,
  noToken,
  serverError,
  unavailable,
} from './resource-server/refusals.ts'
import { jsonReply, type Reply, type Scheme } from './resource-server/reply.ts'
import { header, readCredentials, type RequestLike } from './resource-server/request.ts'
import { type AccessTokenClaims, tokenVerifier } from './resource-server/verify-token.ts'

export { expressMiddleware } from './resource-server/express.ts'
export { fetchHandler } from './resource-server/fetch-handler.ts'
export { koaMiddleware } from './resource-server/koa.ts'
export type {
  AccessTokenClaims,
  Evaluation,
  EvaluationRequest,
  ProtectedResourceMetadata,
  Reply,
  RequestLike,
  Semantic,
}
export { DENY_REASONS, type Allowed, type Denied, type DenyReason, type Failed } from './resource-server/evaluation.ts'

export interface ResourceServerOptions {
  /** Mandate's issuer, e.g. https://mandate.example (exactly its tokens' iss). */
  issuer: string
  /** This resource's RFC 8707 identifier: the aud of the tokens it accepts. */
  resource: string
  /** The client this resource calls the evaluation API as (one of its introspectors). */
  clientId: string
  clientSecret: string
  resourceName?: string
  scopesSupported?: readonly string[]
  /** Accept only DPoP-bound tokens (RFC 9449 §7.2); bound tokens are always checked either way. */
  dpopRequired?: boolean
  /** Token signing algorithms accepted (default ES256, what Mandate signs with). */
  algorithms?: readonly string[]
  /** Seconds of clock difference tolerated on exp and nbf (default 5). */
  clockTolerance?: number
  /** Seconds a DPoP proof's iat may be from now (default 300, as Mandate's own endpoints). */
  dpopWindow?: number
  /** Entries in the decision cache and in the DPoP replay cache, each (default 10 000). */
  cacheSize?: number
  /** Milliseconds for each call to Mandate (default 5 000). */
  timeoutMs?: number
  fetch?: FetchLike
  /** Told why the helper answered 503 or 500 (an outage or a misconfiguration), for the app's logs. */
  onError?: (error: unknown) => void
}

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

export interface GuardOptions {
  /** Scopes the request needs, all of them (RFC 6750 §3.1 insufficient_scope otherwise). */
  scope?: string | readonly string[]
  /** Set for a sensitive action: Mandate's evaluation API decides it, per call. */
  sensitive?: EvaluationRequest | undefined
}

export type Guarded = (Authenticated & { evaluation?: Evaluation }) | Refused

export type ResourceServer = ReturnType<typeof mandateResourceServer>

export function mandateResourceServer(options: ResourceServerOptions) {
  checkResourceUri(options.resource)
  const fetch = options.fetch ?? globalThis.fetch
  const timeoutMs = options.timeoutMs ?? 5000
  const dpopRequired = options.dpopRequired ?? false
  const ctx: ChallengeContext = {
    resourceMetadata: metadataUrl(options.resource),
    dpopAlgs: DPOP_ALGORITHMS.join(' '),
    dpopRequired,
  }
  const verify = tokenVerifier({
    issuer: options.issuer,
    resource: options.resource,
    algorithms: options.algorithms ?? ['ES256'],
    clockTolerance: options.clockTolerance ?? 5,
    fetch,
    timeoutMs,
  })
  const verifyProof = proofVerifier({ window: options.dpopWindow ?? 300, replaySize: options.cacheSize ?? 10_000 })
  const decisions = cachedDecisions(evaluationClient({ ...options, fetch, timeoutMs }), options.cacheSize ?? 10_000)
  const metadata = protectedResourceMetadata({
    resource: options.resource,
    issuer: options.issuer,
    resourceName: options.resourceName,
    scopesSupported: options.scopesSupported,
    dpopAlgorithms: DPOP_ALGORITHMS,
    dpopRequired,
  })
  const paths = new Set(metadataPaths(options.resource))
  const refuse = (reply: Reply): Refused => ({ ok: false, reply })

  async function authenticate(request: RequestLike, required: GuardOptions = {}): Promise<Authenticated | Refused> {
    const credentials = readCredentials(header(request.headers, 'authorization'))
    if (credentials.kind === 'none') return refuse(noToken(ctx))
    if (credentials.kind === 'malformed') return refuse(malformed(ctx))
    const { scheme, token } = credentials
    const checked = await verify(token)
    if (!checked.ok) {
      if (checked.problem !== 'unavailable') return refuse(invalidToken(ctx, scheme, DESCRIPTIONS[checked.problem]))
      options.onError?.(checked.cause)
      return refuse(unavailable())
    }
    const { claims } = checked
    const jkt = claims.cnf?.jkt
    if (jkt === undefined) {
      if (scheme === 'DPoP') return refuse(invalidToken(ctx, 'DPoP', DESCRIPTIONS.notBound))
      if (dpopRequired) return refuse(invalidToken(ctx, 'DPoP', DESCRIPTIONS.bindingRequired))
    } else {
      // RFC 9449 §7.2: a bound token presented as a bearer token is refused, pointing at the DPoP scheme.
      if (scheme === 'Bearer') return refuse(invalidToken(ctx, 'DPoP', DESCRIPTIONS.boundAsBearer))
      const proof = await verifyProof({
        header: header(request.headers, 'dpop'),
        method: request.method.toUpperCase(),
        url: request.url,
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
    const needed =
      typeof required.scope === 'string' ? required.scope.split(' ').filter(Boolean) : [...(required.scope ?? [])]
    if (!needed.every((scope) => scopes.includes(scope))) return refuse(insufficientScope(ctx, scheme, needed))
    return { ok: true, token, scheme, claims, scopes }
  }

  /** The reply for an evaluation that is not an allow; undefined for an allow. */
  function refusalFor(evaluation: Evaluation, auth: Pick<Authenticated, 'scheme'>): Reply | undefined {
    if (evaluation.decision) return undefined
    if (evaluation.failure) {
      options.onError?.(new Error(evaluation.failure.detail))
      return evaluation.failure.status === 503
        ? unavailable(DESCRIPTIONS.evaluationFailed)
        : serverError(DESCRIPTIONS.evaluationFailed)
    }
    const body = { reason: evaluation.reason, decision_id: evaluation.decisionId }
    // RFC 6750 §3.1: a token no longer active is invalid_token (401); every other deny is 403.
    if (evaluation.reason !== 'token_inactive') return jsonReply(403, body)
    const { headers } = invalidToken(ctx, auth.scheme, DESCRIPTIONS.inactive)
    return jsonReply(401, body, { 'www-authenticate': headers['www-authenticate'] as string })
  }

  return {
    resource: options.resource,
    /** RFC 9728 §5.1 resource_metadata: where this resource's metadata is served. */
    metadataUrl: ctx.resourceMetadata,
    /** RFC 9728 §2 document. */
    metadata: (): ProtectedResourceMetadata => structuredClone(metadata),
    /** The metadata reply when the request asks for it (GET/HEAD on a §3.1 path), else undefined. */
    metadataReply(request: Pick<RequestLike, 'method' | 'url'>): Reply | undefined {
      const method = request.method.toUpperCase()
      if ((method !== 'GET' && method !== 'HEAD') || !paths.has(new URL(request.url).pathname)) return undefined
      const reply = jsonReply(200, metadata, { 'cache-control': 'public, max-age=3600' })
      return method === 'HEAD' ? { status: 200, headers: reply.headers } : reply
    },
    authenticate,
    /** AuthZEN evaluation of one sensitive action (cached only as docs/resource-server-helper.md says). */
    authorize: (auth: Authenticated, request: EvaluationRequest): Promise<Evaluation> => decisions.one(auth, request),
    /** Batch evaluation; undefined where Mandate stopped early under the semantic. */
    authorizeAll: (auth: Authenticated, requests: readonly EvaluationRequest[], semantic?: Semantic) =>
      decisions.all(auth, requests, semantic),
    refusalFor,
    /** authenticate, then (for a sensitive action) authorize: what every adapter calls. */
    async guard(request: RequestLike, guard: GuardOptions = {}): Promise<Guarded> {
      const auth = await authenticate(request, guard)
      if (!auth.ok || !guard.sensitive) return auth
      const evaluation = await decisions.one(auth, guard.sensitive)
      const refusal = refusalFor(evaluation, auth)
      return refusal ? refuse(refusal) : { ...auth, evaluation }
    },
  }
}
