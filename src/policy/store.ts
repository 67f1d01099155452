// policy_path_versions (immutable) and policy_bindings. The latest version of a path is in force.
import { type Kysely, sql } from 'kysely'
import type { DB } from '../db/schema.ts'
import { type Binding, PolicyPathDocument } from './schema.ts'

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

/** Serialises concurrent applies of the same path so versions stay gap-free and unique. */
export async function lockPath(db: Kysely<DB>, path: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${`mandate.policy_path:${path}`}))`.execute(db)
}

/** The path's current (latest) document and its version, or undefined when it has none. */
export async function currentDocument(
  db: Kysely<DB>,
  path: string,
): Promise<{ version: number; document: PolicyPathDocument } | undefined> {
  const row = await db
    .selectFrom('policy_path_versions')
    .select(['version', 'document'])
    .where('path', '=', path)
    .orderBy('version', 'desc')
    .limit(1)
    .executeTakeFirst()
  return row && { version: row.version, document: PolicyPathDocument.parse(row.document) }
}
