// Where requests get the catalog: one read of the configuration generation per request (the first time a
// request asks; requests arriving together share one that began after each of them asked), and the
// catalog of that generation from memory, loaded again only when the generation moved. A change
// committed before a request starts is in force for it on every process (no stale window, as zero-delay
// revocation requires of narrowing); a request already running keeps the catalog it began with, as if it
// had been served a moment earlier.
import { AsyncLocalStorage } from 'node:async_hooks'
import type { Context, Next } from 'koa'
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import { coalesced } from '../lib/coalesced.ts'
import { type Catalog, buildCatalog } from './catalog.ts'
import { loadCatalogRows, readGeneration } from './load.ts'

export interface CatalogSource {
  /** The catalog for this request (memoized per request inside `scope`; read afresh outside one). */
  current(): Promise<Catalog>
  /**
   * Koa middleware: a request scope, so one request reads the generation once. A POST (every endpoint that
   * decides something) starts that read as it enters, so it overlaps authenticating: mounted after the body
   * is read (app.ts), never before it, or a trickled body would be decided on a replaced configuration.
   */
  scope(ctx: Context, next: Next): Promise<void>
}

export function catalogSource(db: Kysely<DB>): CatalogSource {
  const requests = new AsyncLocalStorage<{ catalog?: Promise<Catalog> }>()
  let cached: Catalog | undefined
  let loading: Promise<Catalog> | undefined
  // Concurrent requests share generation reads: each waits for a read that began after it asked.
  // A read slower than this is stalled (a pooled round trip takes well under a millisecond): callers then
  // read on their own, each bounded by MANDATE_DATABASE_TIMEOUT as without sharing.
  const generationNow = coalesced(() => readGeneration(db), { patience: 50 })

  async function fresh(): Promise<Catalog> {
    const generation = await generationNow()
    if (cached?.generation === generation) return cached
    // Concurrent requests that find a newer generation share one load; a load that raced a later change
    // returns its own (newer or equal) generation, which serves this request correctly either way.
    loading ??= loadCatalogRows(db)
      .then((rows) => {
        const catalog = buildCatalog(rows)
        if (!cached || BigInt(catalog.generation) >= BigInt(cached.generation)) cached = catalog
        return catalog
      })
      .finally(() => {
        loading = undefined
      })
    const loaded = await loading
    // A load begun before this request read its generation may be older than it: load again.
    return BigInt(loaded.generation) >= BigInt(generation) ? loaded : fresh()
  }

  return {
    current() {
      const request = requests.getStore()
      if (!request) return fresh()
      request.catalog ??= fresh()
      return request.catalog
    },
    scope(ctx, next) {
      const request: { catalog?: Promise<Catalog> } = {}
      if (ctx.method === 'POST') {
        request.catalog = fresh()
        request.catalog.catch(() => {}) // an outage reaches whoever asks for the catalog, not this prefetch
      }
      return requests.run(request, next)
    },
  }
}
