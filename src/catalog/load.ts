// Reading the catalog from Postgres: the generation alone (every request), and every row of the
// configuration with the generation they belong to, in one repeatable-read transaction (on a change).
import { type Kysely, sql } from 'kysely'
import type { DB } from '../db/schema.ts'
import { PolicyPathDocument } from '../policy/schema.ts'
import type { CatalogRows } from './catalog.ts'

export async function readGeneration(db: Kysely<DB>): Promise<string> {
  const row = await db.selectFrom('config_generation').select('generation').executeTakeFirstOrThrow()
  return String(row.generation)
}

export function loadCatalogRows(db: Kysely<DB>): Promise<CatalogRows> {
  // Repeatable read: the rows and the generation are of one snapshot.
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (trx) => {
      const generation = await readGeneration(trx)
      const [clients, resources, issuers, bindings, versions] = await Promise.all([
        trx.selectFrom('clients').selectAll().execute(),
        trx.selectFrom('resources').selectAll().execute(),
        trx.selectFrom('issuers').selectAll().execute(),
        trx.selectFrom('policy_bindings').selectAll().execute(),
        // A retired path is no level: its latest version is a retirement (migration 0011).
        sql<{ path: string; version: number; document: unknown }>`
          select path, version, document from (
            select distinct on (path) path, version, document, retired from policy_path_versions
            order by path, version desc
          ) latest where not retired`.execute(trx),
      ])
      return {
        generation,
        clients,
        resources,
        issuers,
        bindings,
        levels: versions.rows.map((row) => ({
          path: row.path,
          version: row.version,
          spec: PolicyPathDocument.parse(row.document).spec,
        })),
      }
    })
}
