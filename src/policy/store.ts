// policy_path_versions (immutable) and policy_bindings. The latest version of a path is in force.
import { type Kysely, sql } from 'kysely'
import type { DB } from '../db/schema.ts'
import type { Level } from './effective.ts'
import { ancestorsOf, type Binding, PolicyPathDocument } from './schema.ts'

export async function latestVersion(
  db: Kysely<DB>,
  path: string,
): Promise<{ version: number; content_hash: string } | undefined> {
  return db
    .selectFrom('policy_path_versions')
    .select(['version', 'content_hash'])
    .where('path', '=', path)
    .orderBy('version', 'desc')
    .limit(1)
    .executeTakeFirst()
}

/** Appends a version and makes the path's bindings exactly `bindings`. */
export async function saveVersion(
  db: Kysely<DB>,
  doc: PolicyPathDocument,
  version: number,
  contentHash: string,
  now: Date,
): Promise<void> {
  const path = doc.metadata.name
  await db
    .insertInto('policy_path_versions')
    .values({ path, version, document: JSON.stringify(doc), content_hash: contentHash, created_at: now })
    .execute()
  await db.deleteFrom('policy_bindings').where('path', '=', path).execute()
  if (doc.spec.bindings.length > 0) {
    await db
      .insertInto('policy_bindings')
      .values(
        doc.spec.bindings.map((b) => ({ client_id: b.client, resource: b.resource, grant_type: b.grantType, path })),
      )
      .execute()
  }
}

export async function listBindings(db: Kysely<DB>): Promise<Array<Binding & { path: string }>> {
  const rows = await db.selectFrom('policy_bindings').selectAll().execute()
  return rows.map((r) => ({
    client: r.client_id,
    resource: r.resource,
    grantType: r.grant_type as Binding['grantType'],
    path: r.path,
  }))
}

/**
 * The levels of the path bound to (client, resource, grant type): the latest version of the path and of
 * each existing ancestor, root first. One query; undefined when nothing is bound.
 */
export async function loadBoundLevels(
  db: Kysely<DB>,
  client: string,
  resource: string,
  grantType: string,
): Promise<{ path: string; levels: Level[] } | undefined> {
  const { rows } = await sql<{ bound: string; path: string | null; version: number | null; document: unknown }>`
    select b.path as bound, v.path, v.version, v.document
    from policy_bindings b
    left join lateral (
      select distinct on (p.path) p.path, p.version, p.document
      from policy_path_versions p
      where p.path in (
        select array_to_string((string_to_array(b.path, '/'))[1:n], '/')
        from generate_series(1, cardinality(string_to_array(b.path, '/'))) as n)
      order by p.path, p.version desc
    ) v on true
    where b.client_id = ${client} and b.resource = ${resource} and b.grant_type = ${grantType}`.execute(db)
  const bound = rows[0]?.bound
  if (bound === undefined) return undefined
  return { path: bound, levels: toLevels(bound, rows) }
}

/** The latest version of the path and of each existing ancestor, root first (one query). */
export async function loadLevels(db: Kysely<DB>, path: string): Promise<Level[]> {
  const rows = await db
    .selectFrom('policy_path_versions')
    .select(['path', 'version', 'document'])
    .distinctOn('path')
    .where('path', 'in', ancestorsOf(path))
    .orderBy('path')
    .orderBy('version', 'desc')
    .execute()
  return toLevels(path, rows)
}

const toLevels = (
  path: string,
  rows: ReadonlyArray<{ path: string | null; version: number | null; document: unknown }>,
): Level[] => {
  const paths = ancestorsOf(path)
  return rows
    .filter((row): row is { path: string; version: number; document: unknown } => row.path !== null)
    .sort((a, b) => paths.indexOf(a.path) - paths.indexOf(b.path))
    .map((row) => ({ path: row.path, version: row.version, spec: PolicyPathDocument.parse(row.document).spec }))
}

/** Serialises concurrent applies of the same path so versions stay gap-free and unique. */
export async function lockPath(db: Kysely<DB>, path: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${`mandate.policy_path:${path}`}))`.execute(db)
}
