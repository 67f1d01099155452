// Talking to an upstream OpenID provider: its metadata (OIDC Discovery 1.0 §4, cached per issuer and
// process), and the HTTP options every oauth4webapi call takes: the outbound guard (outbound/fetch.ts)
// and a timeout on each request.
import * as oauth from 'oauth4webapi'
import { DependencyUnavailable } from '../db/outage.ts'
import type { LoginIssuer } from '../issuers/login.ts'
import type { Clock } from '../lib/clock.ts'
import type { OutboundFetch } from '../outbound/fetch.ts'

/** Every request to a provider is abandoned after this long. */
export const UPSTREAM_TIMEOUT_MS = 5000
/** Seconds a provider's metadata is reused before it is fetched again. */
const METADATA_TTL = 600

export interface ProviderDeps {
  clock: Clock
  fetchOutbound: OutboundFetch
}

/**
 * oauth4webapi's transport: requests go through the outbound guard, which decides about http: (refused in
 * production by MANDATE_OUTBOUND__REQUIRE_HTTPS), so oauth4webapi's own https check is left to it.
 */
export function httpOptions(fetchOutbound: OutboundFetch) {
  return {
    signal: () => AbortSignal.timeout(UPSTREAM_TIMEOUT_MS),
    [oauth.allowInsecureRequests]: true,
    [oauth.customFetch]: (
      url: string,
      init: { method: string; headers: Record<string, string>; body?: unknown; signal?: AbortSignal },
    ) =>
      fetchOutbound(url, {
        method: init.method,
        headers: init.headers,
        ...(init.body === undefined ? {} : { body: String(init.body) }),
        ...(init.signal ? { signal: init.signal } : {}),
      }),
  }
}

// One cache per outbound fetch (one per app), as for remote key sets (issuers/key-sets.ts).
const caches = new WeakMap<
  OutboundFetch,
  Map<string, { expires: number; metadata: Promise<oauth.AuthorizationServer> }>
>()

/**
 * The provider's metadata, whose `issuer` must be the Issuer document's (OIDC Discovery 1.0 §4.3).
 * DependencyUnavailable when it cannot be had: unreachable, refused, or not a provider's metadata.
 */
export function providerMetadata(
  issuer: Pick<LoginIssuer, 'name' | 'issuer'>,
  deps: ProviderDeps,
): Promise<oauth.AuthorizationServer> {
  const cache = caches.get(deps.fetchOutbound) ?? new Map()
  caches.set(deps.fetchOutbound, cache)
  const now = deps.clock.now()
  const cached = cache.get(issuer.issuer)
  if (cached && cached.expires > now) return cached.metadata
  const entry = { expires: now + METADATA_TTL, metadata: discover(issuer, deps.fetchOutbound) }
  cache.set(issuer.issuer, entry)
  // A failure is not remembered: the next sign-in asks again.
  entry.metadata.catch(() => {
    if (cache.get(issuer.issuer) === entry) cache.delete(issuer.issuer)
  })
  return entry.metadata
}

async function discover(
  issuer: Pick<LoginIssuer, 'name' | 'issuer'>,
  fetchOutbound: OutboundFetch,
): Promise<oauth.AuthorizationServer> {
  try {
    const expected = new URL(issuer.issuer)
    const metadata = await oauth.processDiscoveryResponse(
      expected,
      await oauth.discoveryRequest(expected, httpOptions(fetchOutbound)),
    )
    if (typeof metadata.authorization_endpoint !== 'string' || typeof metadata.token_endpoint !== 'string')
      throw new Error('the metadata has no authorization_endpoint or token_endpoint')
    return metadata
  } catch (error) {
    throw new DependencyUnavailable(`OpenID provider metadata of issuer ${issuer.name}`, { cause: error })
  }
}
