// mandate/resource-server: what a resource server needs to accept Mandate's access tokens. A
// framework-neutral core (authenticate, authorize, metadata) and thin koa, express and fetch adapters.
// Imports only jose and node: builtins; see docs/resource-server-helper.md.
import { type Authenticated, authenticator, type Refused, type RequiredScope } from './resource-server/authenticate.ts'
import { cachedDecisions } from './resource-server/decisions.ts'
import { DPOP_ALGORITHMS, proofVerifier } from './resource-server/dpop-proof.ts'
import type { Evaluation, EvaluationRequest, Semantic } from './resource-server/evaluation.ts'
import { evaluationClient } from './resource-server/evaluation-client.ts'
import type { FetchLike } from './resource-server/fetch.ts'
import {
  checkResourceUri,
  metadataPaths,
  metadataUrl,
  type ProtectedResourceMetadata,
  protectedResourceMetadata,
} from './resource-server/metadata.ts'
import { type ChallengeContext, evaluationRefusal } from './resource-server/refusals.ts'
import { jsonReply, type Reply } from './resource-server/reply.ts'
import type { RequestLike } from './resource-server/request.ts'
import { tokenVerifier } from './resource-server/verify-token.ts'

export type { Authenticated, RequiredScope, Refused } from './resource-server/authenticate.ts'
export {
  type Allowed,
  DENY_REASONS,
  type Denied,
  type DenyReason,
  type Evaluation,
  type EvaluationRequest,
  type Failed,
  type Semantic,
} from './resource-server/evaluation.ts'
export { expressMiddleware } from './resource-server/express.ts'
export { fetchHandler } from './resource-server/fetch-handler.ts'
export { koaMiddleware } from './resource-server/koa.ts'
export type { ProtectedResourceMetadata } from './resource-server/metadata.ts'
export type { Reply } from './resource-server/reply.ts'
export type { RequestLike } from './resource-server/request.ts'
export type { AccessTokenClaims } from './resource-server/verify-token.ts'

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
  /**
   * Where clients reach this resource, when not at its identifier's origin (e.g. http://localhost:8080 in
   * development): DPoP proofs must name it (RFC 9449 §4.3 htu). Never taken from the Host header.
   */
  origin?: string
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

export interface GuardOptions {
  scope?: RequiredScope
  /** Set for a sensitive action: Mandate's evaluation API decides it, per call. */
  sensitive?: EvaluationRequest | undefined
}

export type Guarded = (Authenticated & { evaluation?: Evaluation }) | Refused

export type ResourceServer = ReturnType<typeof mandateResourceServer>

export function mandateResourceServer(options: ResourceServerOptions) {
  const { origin: ownOrigin } = checkResourceUri(options.resource)
  const origin = options.origin === undefined ? ownOrigin : new URL(options.origin).origin
  const fetch = options.fetch ?? globalThis.fetch
  const timeoutMs = options.timeoutMs ?? 5000
  const cacheSize = options.cacheSize ?? 10_000
  const dpopRequired = options.dpopRequired ?? false
  const ctx: ChallengeContext = {
    resourceMetadata: metadataUrl(options.resource),
    dpopAlgs: DPOP_ALGORITHMS.join(' '),
    dpopRequired,
  }
  const authenticate = authenticator({
    ctx,
    origin,
    verify: tokenVerifier({
      issuer: options.issuer,
      resource: options.resource,
      algorithms: options.algorithms ?? ['ES256'],
      clockTolerance: options.clockTolerance ?? 5,
      fetch,
      timeoutMs,
    }),
    verifyProof: proofVerifier({ window: options.dpopWindow ?? 300, replaySize: cacheSize }),
    onError: options.onError,
  })
  const decisions = cachedDecisions(evaluationClient({ ...options, fetch, timeoutMs }), cacheSize)
  const metadata = protectedResourceMetadata({
    resource: options.resource,
    issuer: options.issuer,
    resourceName: options.resourceName,
    scopesSupported: options.scopesSupported,
    dpopAlgorithms: DPOP_ALGORITHMS,
    dpopRequired,
  })
  const paths = new Set(metadataPaths(options.resource))

  /** The reply for an evaluation that is not an allow; undefined for an allow. */
  function refusalFor(evaluation: Evaluation, auth: Pick<Authenticated, 'scheme'>): Reply | undefined {
    if (evaluation.decision) return undefined
    if (evaluation.failure) options.onError?.(new Error(evaluation.failure.detail))
    return evaluationRefusal(ctx, auth.scheme, evaluation)
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
      const path = URL.parse(request.url, 'http://localhost')?.pathname
      if ((method !== 'GET' && method !== 'HEAD') || !path || !paths.has(path)) return undefined
      const reply = jsonReply(200, metadata, { 'cache-control': 'public, max-age=3600' })
      return method === 'HEAD' ? { status: 200, headers: reply.headers } : reply
    },
    /** The verified token, or the exact refusal to send (RFC 6750 §3, RFC 9449 §7, RFC 9728 §5.1). */
    authenticate,
    /** AuthZEN evaluation of one sensitive action, cached only as the cache rules allow. */
    authorize: (auth: Authenticated, request: EvaluationRequest): Promise<Evaluation> => decisions.one(auth, request),
    /** Batch evaluation; undefined where Mandate stopped early under the semantic. */
    authorizeAll: (auth: Authenticated, requests: readonly EvaluationRequest[], semantic?: Semantic) =>
      decisions.all(auth, requests, semantic),
    refusalFor,
    /** authenticate, then (for a sensitive action) authorize: what every adapter calls. */
    async guard(request: RequestLike, guard: GuardOptions = {}): Promise<Guarded> {
      const auth = await authenticate(request, guard.scope)
      if (!auth.ok || !guard.sensitive) return auth
      const evaluation = await decisions.one(auth, guard.sensitive)
      const refusal = refusalFor(evaluation, auth)
      return refusal ? { ok: false, reply: refusal } : { ...auth, evaluation }
    },
  }
}
