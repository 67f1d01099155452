// policy_path_versions (immutable) and policy_bindings. The latest version of a path is in force, unless it is
// a retirement (migration 0011): then the path is in force nowhere, and its bindings are gone.
import { type Kysely, type Selectable, sql } from 'kysely'
import type { DB, PolicyPathVersionsTable } from '../db/schema.ts'
import { ancestorsOf, type Binding, PolicyPathDocument } from './schema.ts'

/**
 * Where a version came from: a file `mandate apply` read (with the sha-256 of its bytes), an admin
 * (`admin:<client_id>` on the API, `admin-person:<username>` on the page), or `mandate apply --prune` (the
 * folders it was given).
 */
export type VersionSource =
  | { kind: 'file'; file: string; digest: string }
  | { kind: 'admin'; admin: string }
  | { kind: 'prune'; paths: string }

/** Who made a version and why (the reason, when one was given). */
export interface Provenance {
  source?: VersionSource | undefined
  reason?: string | undefined
}

const columnsOf = ({ source, reason }: Provenance = {}) => ({
  source_kind: source?.kind ?? null,
  source: source
    ? source.kind === 'file'
      ? source.file
      : source.kind === 'admin'
        ? source.admin
        : source.paths
    : null,
  source_digest: source?.kind === 'file' ? source.digest : null,
  reason: reason ?? null,
})

/** The source of a stored version as the API and audit show it; null for a version written before 0011. */
export function sourceOf(
  row: Pick<Selectable<PolicyPathVersionsTable>, 'source_kind' | 'source' | 'source_digest'>,
): VersionSource | null {
  if (row.source_kind === 'file') return { kind: 'file', file: row.source ?? '', digest: row.source_digest ?? '' }
  if (row.source_kind === 'admin') return { kind: 'admin', admin: row.source ?? '' }
  if (row.source_kind === 'prune') return { kind: 'prune', paths: row.source ?? '' }
  return null
}

export async function latestVersion(
  db: Kysely<DB>,
  path: string,
): Promise<{ version: number; content_hash: string; retired: boolean } | undefined> {
  return db
    .selectFrom('policy_path_versions')
    .select(['version', 'content_hash', 'retired'])
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
  provenance?: Provenance,
): Promise<void> {
  const path = doc.metadata.name
  await db
    .insertInto('policy_path_versions')
    .values({
      path,
      version,
      document: JSON.stringify(doc),
      content_hash: contentHash,
      created_at: now,
      ...columnsOf(provenance),
    })
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

/**
 * Retires a path (call under lockPath, with its current version read in the same transaction): a last
 * version keeping the document, marked retired, and no bindings left. Returns the new version.
 */
export async function saveRetirement(
  db: Kysely<DB>,
  path: string,
  current: { version: number; document: PolicyPathDocument },
  contentHash: string,
  now: Date,
  provenance: Provenance,
): Promise<number> {
  const version = current.version + 1
  await db
    .insertInto('policy_path_versions')
    .values({
      path,
      version,
      document: JSON.stringify(current.document),
      content_hash: contentHash,
      created_at: now,
      retired: true,
      ...columnsOf(provenance),
    })
    .execute()
  await db.deleteFrom('policy_bindings').where('path', '=', path).execute()
  return version
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

/** Serialises concurrent applies of the same path so versions stay gap-free and unique. */
export async function lockPath(db: Kysely<DB>, path: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${`mandate.policy_path:${path}`}))`.execute(db)
}

/**
 * lockPath of the path and of each of its ancestors, root first (one order everywhere, so two writers never
 * wait on each other): a write below a path is serialised with a retirement of it, which checks under its
 * lock that no path in force is below it.
 */
export async function lockPathAndAncestors(db: Kysely<DB>, path: string): Promise<void> {
  for (const level of ancestorsOf(path)) await lockPath(db, level)
}

/** The path's latest version and its document (retired or not), or undefined when it has none. */
export async function currentDocument(
  db: Kysely<DB>,
  path: string,
): Promise<{ version: number; document: PolicyPathDocument; retired: boolean; content_hash: string } | undefined> {
  const row = await db
    .selectFrom('policy_path_versions')
    .select(['version', 'document', 'retired', 'content_hash'])
    .where('path', '=', path)
    .orderBy('version', 'desc')
    .limit(1)
    .executeTakeFirst()
  return (
    row && {
      version: row.version,
      document: PolicyPathDocument.parse(row.document),
      retired: row.retired,
      content_hash: row.content_hash,
    }
  )
}

/** The path's current document when it is in force (not retired), or undefined. */
export async function liveDocument(db: Kysely<DB>, path: string) {
  const current = await currentDocument(db, path)
  return current && !current.retired ? current : undefined
}

/** The names of the paths in force (their latest version is not a retirement), sorted. */
export async function livePaths(db: Kysely<DB>): Promise<string[]> {
  const { rows } = await sql<{ path: string }>`
    select path from (
      select distinct on (path) path, retired from policy_path_versions order by path, version desc
    ) latest
    where not retired
    order by path`.execute(db)
  return rows.map((row) => row.path)
}

/** The paths in force below `path` (its descendants: `path/…`). */
export async function liveDescendants(db: Kysely<DB>, path: string): Promise<string[]> {
  return (await livePaths(db)).filter((name) => name.startsWith(`${path}/`))
}
