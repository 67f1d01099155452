// Trusted issuers on the admin API, read without the client secret of their upstream sign-in (kept when a
// document comes back without it, for the same upstream and client id only); not deleted while a policy path accepts their tokens.
import { sql } from 'kysely'
import { issuerDocument } from '../issuers/document.ts'
import { planIssuer } from '../issuers/plan-apply.ts'
import { IssuerDocument } from '../issuers/schema.ts'
import { findIssuerByName, type IssuerRow } from '../issuers/store.ts'
import { finding, isPlain, type KindRules } from './entity-rules.ts'

export const issuerRules: KindRules<IssuerRow> = {
  kind: 'Issuer',
  table: 'issuers',
  key: 'name',
  find: findIssuerByName,
  list: (db) => db.selectFrom('issuers').selectAll().orderBy('name').execute(),
  document: issuerDocument,
  etag: (row) => row.content_hash,
  summary: (row) => ({
    name: row.name,
    issuer: row.issuer,
    description: row.description,
    sign_in: row.login !== null,
    updated_at: row.updated_at,
  }),
  prepare(doc, stored) {
    // GET leaves the upstream client secret out; a document sent back without it keeps the stored one.
    const spec = isPlain(doc.spec) ? doc.spec : undefined
    const login = spec && isPlain(spec.login) ? spec.login : undefined
    const storedLogin = stored?.login as { clientId?: string; clientSecret?: string } | null | undefined
    const storedSecret = storedLogin?.clientSecret
    if (!spec || !login || login.clientSecret !== undefined || !storedSecret) return { document: doc, findings: [] }
    // Only for the same upstream and client: otherwise an admin who may not read the secret could point the
    // issuer at their own server and be sent it (RFC 6749 §2.3.1 Basic) by the next upstream sign-in.
    if (spec.issuer !== stored?.issuer || login.clientId !== storedLogin?.clientId)
      return {
        document: doc,
        findings: [
          finding(
            'secret_required',
            'spec.login.clientSecret is required when the issuer or login.clientId changes: the stored one stays with its upstream',
            '/spec/login/clientSecret',
          ),
        ],
      }
    return { document: { ...doc, spec: { ...spec, login: { ...login, clientSecret: storedSecret } } }, findings: [] }
  },
  plan: async (db, doc) => ({ planned: await planIssuer(db, IssuerDocument.parse(doc)) }),
  async references(db, row) {
    // The current (latest) version of every path in force (not retired) that accepts subject tokens of this issuer.
    const { rows } = await sql<{ path: string }>`
      select path from (select distinct on (path) path, document, retired from policy_path_versions order by path, version desc) v
      where not v.retired and v.document->'spec'->'subjectTokens'->'issuers' ? ${row.name} order by path`.execute(db)
    return rows.map((r) =>
      finding(
        'named',
        `policy path ${r.path} accepts subject tokens of this issuer`,
        '/spec/subjectTokens/issuers',
        `PolicyPath ${r.path}`,
      ),
    )
  },
  async remove(db, row) {
    await db.deleteFrom('issuers').where('name', '=', row.name).execute()
    return {}
  },
}
