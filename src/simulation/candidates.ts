// The catalog as it would be with candidate policy path documents saved: each candidate replaces its path's
// current version (and bindings), or adds the path, exactly as a PUT or `apply` of it would. Pure: the rows
// of the live catalog in, a new catalog out, so every lookup is the real catalog's (catalog/catalog.ts).
import { isDeepStrictEqual } from 'node:util'
import { buildCatalog, type Catalog, type CatalogRows } from '../catalog/catalog.ts'
import type { PolicyPathDocument } from '../policy/schema.ts'

export function withCandidates(catalog: Catalog, candidates: readonly PolicyPathDocument[]): Catalog {
  if (candidates.length === 0) return catalog
  return buildCatalog(candidateRows(catalog.rows, candidates))
}

export function candidateRows(rows: CatalogRows, candidates: readonly PolicyPathDocument[]): CatalogRows {
  const names = new Set(candidates.map((doc) => doc.metadata.name))
  const triple = (b: { client_id: string; resource: string; grant_type: string }) =>
    `${b.client_id}\u0000${b.resource}\u0000${b.grant_type}`
  const bindings = candidates.flatMap((doc) =>
    doc.spec.bindings.map((b) => ({
      client_id: b.client,
      resource: b.resource,
      grant_type: b.grantType,
      path: doc.metadata.name,
    })),
  )
  // A triple a candidate binds is its own (a saved document could not bind it elsewhere too: validation).
  const taken = new Set(bindings.map(triple))
  return {
    ...rows,
    generation: `${rows.generation}+candidate`,
    bindings: [...rows.bindings.filter((b) => !names.has(b.path) && !taken.has(triple(b))), ...bindings],
    levels: [
      ...rows.levels.filter((level) => !names.has(level.path)),
      ...candidates.map((doc) => {
        const current = rows.levels.find((level) => level.path === doc.metadata.name)
        // The version it would be saved as: the current one when its spec is unchanged.
        const same = current !== undefined && isDeepStrictEqual(current.spec, doc.spec)
        return {
          path: doc.metadata.name,
          version: same ? current.version : (current?.version ?? 0) + 1,
          spec: doc.spec,
        }
      }),
    ],
  }
}
