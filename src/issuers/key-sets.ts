// The keys a trusted issuer's tokens verify with: its inline JWKS, or its jwksUri fetched through the
// outbound guard (outbound/fetch.ts). Keys too weak to trust (lib/jwk-strength.ts) are dropped from
// either, so a weak key, even one published later at the issuer's URL, verifies nothing.
import { createLocalJWKSet, createRemoteJWKSet, customFetch, type FetchImplementation, type JSONWebKeySet } from 'jose'
import { weakKeyProblem } from '../lib/jwk-strength.ts'
import type { OutboundFetch } from '../outbound/fetch.ts'
import type { IssuerRow } from './store.ts'

export type KeySet = ReturnType<typeof createRemoteJWKSet>

// Remote key sets keep jose's cache (10 min) and unknown-kid cooldown (30 s) across requests, one cache
// per outbound fetch (one per app).
const remoteSets = new WeakMap<OutboundFetch, Map<string, KeySet>>()
// Inline key sets are built once per row: a catalog keeps its rows until the configuration changes.
const localSets = new WeakMap<IssuerRow, KeySet>()

export function keySetOf(row: IssuerRow, fetchOutbound: OutboundFetch): KeySet {
  if (row.jwks) {
    let set = localSets.get(row)
    if (!set) {
      set = createLocalJWKSet(strongKeysOnly(row.jwks) as JSONWebKeySet) as KeySet
      localSets.set(row, set)
    }
    return set
  }
  const uri = row.jwks_uri as string
  const sets = remoteSets.get(fetchOutbound) ?? new Map<string, KeySet>()
  remoteSets.set(fetchOutbound, sets)
  let set = sets.get(uri)
  if (!set) {
    set = createRemoteJWKSet(new URL(uri), { timeoutDuration: 3000, [customFetch]: fetchStrongKeys(fetchOutbound) })
    sets.set(uri, set)
  }
  return set
}

/** The JWKS without its weak keys; anything that is not a JWKS is left for jose to refuse. */
function strongKeysOnly(jwks: unknown): unknown {
  const keys = (jwks as { keys?: unknown } | null)?.keys
  if (!Array.isArray(keys)) return jwks
  const strong = keys.filter(
    (key: unknown) =>
      typeof key === 'object' && key !== null && weakKeyProblem(key as Record<string, unknown>) === undefined,
  )
  return { ...(jwks as object), keys: strong }
}

const fetchStrongKeys =
  (fetchOutbound: OutboundFetch): FetchImplementation =>
  async (url, init) => {
    const response = await fetchOutbound(url, init)
    if (response.status !== 200) return response
    const text = await response.text()
    try {
      return Response.json(strongKeysOnly(JSON.parse(text)))
    } catch {
      return new Response(text, { status: 200 }) // not JSON: jose answers it as such
    }
  }
