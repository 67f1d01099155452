// Resources on the admin API; the built-in admin resource is never changed or deleted here, and deleting one
// revokes every token issued for it.
import { resourceDocument } from '../resources/document.ts'
import { planResource } from '../resources/plan-apply.ts'
import { ResourceDocument } from '../resources/schema.ts'
import { findResourceByName, type ResourceRow } from '../resources/store.ts'
import { revokeTokensOf } from '../lineage/revoke-of.ts'
import { ADMIN_RESOURCE } from './bootstrap.ts'
import { finding, isPlain, type KindRules } from './entity-rules.ts'

export const resourceRules: KindRules<ResourceRow> = {
  kind: 'Resource',
  table: 'resources',
  key: 'name',
  find: findResourceByName,
  list: (db) => db.selectFrom('resources').selectAll().orderBy('name').execute(),
  document: resourceDocument,
  etag: (row) => row.content_hash,
  summary: (row) => ({
    name: row.name,
    uri: row.uri,
    description: row.description,
    scopes: row.scopes,
    introspectors: row.introspectors,
    updated_at: row.updated_at,
  }),
  prepare: (doc) => ({ document: doc, findings: [] }),
  plan: async (db, doc) => ({ planned: await planResource(db, ResourceDocument.parse(doc)) }),
  // Bindings name a resource by its uri: moving a bound one would leave them to whoever registers that uri next.
  moves: (row, doc) => isPlain(doc.spec) && doc.spec.uri !== row.uri,
  // Tokens carry the uri as their audience: a resource registered there later must not accept them.
  moved: async (db, row, now) => ({ revoked_tokens: await revokeTokensOf(db, { resource: row.uri }, now) }),
  builtIn: (row) => (row.uri === ADMIN_RESOURCE ? 'the admin API resource is built in' : undefined),
  async references(db, row) {
    const bound = await db
      .selectFrom('policy_bindings')
      .selectAll()
      .where('resource', '=', row.uri)
      .orderBy('path')
      .execute()
    return bound.map((b) =>
      finding(
        'bound',
        `policy path ${b.path} binds client ${b.client_id} to this resource (${b.grant_type})`,
        '/spec/bindings',
        `PolicyPath ${b.path}`,
      ),
    )
  },
  async remove(db, row, now) {
    const revoked = await revokeTokensOf(db, { resource: row.uri }, now)
    await db.deleteFrom('resources').where('name', '=', row.name).execute()
    return { revoked_tokens: revoked }
  },
}
