// Clients on the admin API: read without their secret; a secret Mandate generates for a confidential client,
// stored as the hash `apply` stores; deleting one ends every token it held or acted in, and its grants; one a
// path in force binds or trusts (actor, holder, intermediary) is not deleted.
import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import { clientDocument } from '../clients/document.ts'
import { planClient } from '../clients/plan-apply.ts'
import { ClientDocument } from '../clients/schema.ts'
import { hashSecret } from '../clients/secret-hash.ts'
import { type ClientRow, findClient } from '../clients/store.ts'
import { revokeTokensOf } from '../lineage/revoke-of.ts'
import { AUTHORIZATION_CODE, REFRESH_TOKEN } from '../oauth/protocol.ts'
import type { PolicyPathSpec } from '../policy/schema.ts'
import { type Finding, finding, isPlain, type KindRules } from './entity-rules.ts'
import { CONSOLE_CLIENT } from './console-client.ts'

/** Grants a public client may use (clients/schema.ts): any other needs a credential. */
const PUBLIC_GRANTS: readonly unknown[] = [AUTHORIZATION_CODE, REFRESH_TOKEN]
/** Stands in for the secret while the document is validated; the stored one is a hash of a generated secret. */
const SECRET_PLACEHOLDER = 'generated-by-mandate-0000000000000000000000'

/** A new client secret: 32 random bytes, base64url (256 bits, RFC 6749 §10.10 asks for at least 128). */
export const newClientSecret = (): string => randomBytes(32).toString('base64url')

/** Where a policy path's spec trusts this client by name (JSON pointers). */
function trustFields(spec: Partial<PolicyPathSpec>, id: string): string[] {
  const fields: string[] = []
  if (spec.delegation?.actors?.includes(id)) fields.push('/spec/delegation/actors')
  if (spec.subjectTokens?.holders?.includes(id)) fields.push('/spec/subjectTokens/holders')
  if (spec.delegation?.intermediaries?.some((i) => i.client === id || i.actors.includes(id)))
    fields.push('/spec/delegation/intermediaries')
  if (spec.actions?.some((rule) => rule.actors?.includes(id))) fields.push('/spec/actions')
  return fields
}

export const clientRules: KindRules<ClientRow> = {
  kind: 'Client',
  table: 'clients',
  key: 'client_id',
  find: findClient,
  list: (db) => db.selectFrom('clients').selectAll().orderBy('client_id').execute(),
  document: clientDocument,
  etag: (row) => row.content_hash,
  // Ensured at every start from the console's configuration (console-client.ts): a change here would not last.
  builtIn: (row) =>
    row.client_id === CONSOLE_CLIENT ? 'the admin console client is built in (MANDATE_ADMIN_CONSOLE__URL)' : undefined,
  summary: (row) => ({
    client_id: row.client_id,
    description: row.description,
    profile: row.profile,
    grant_types: row.grant_types,
    scopes: row.scopes,
    authentication: row.jwks !== null ? 'private_key_jwt' : row.secret_hash !== null ? 'client_secret' : 'none',
    disabled: row.disabled_at !== null,
    disabled_by_document: row.disabled_by_document,
    disabled_by_admin: row.disabled_by_cli,
    updated_at: row.updated_at,
  }),
  prepare(doc, stored, { confidential }) {
    const spec = isPlain(doc.spec) ? doc.spec : undefined
    if (!spec) return { document: doc, findings: [] }
    const findings: Finding[] = []
    if (spec.secret !== undefined)
      findings.push(
        finding(
          'secret_generated',
          'Mandate generates client secrets: leave spec.secret out (a new client gets one, :rotate-secret replaces it)',
          '/spec/secret',
        ),
      )
    // What `mandate export` writes for a file; here the secret is Mandate's to generate, never the caller's hash.
    if (spec.secretHash !== undefined)
      findings.push(
        finding(
          'secret_generated',
          'Mandate generates client secrets: leave spec.secretHash out (a new client gets one, :rotate-secret replaces it)',
          '/spec/secretHash',
        ),
      )
    const keys = spec.jwks !== undefined
    if (keys && confidential === true)
      findings.push(
        finding(
          'secret_with_jwks',
          'a client with jwks authenticates with private_key_jwt and has no secret',
          '/spec/jwks',
        ),
      )
    // Confidential unless told: a client that had a secret keeps it; a new one gets one when a grant needs it.
    const grants = Array.isArray(spec.grantTypes) ? spec.grantTypes : []
    const secret =
      !keys && (confidential ?? (stored?.secret_hash != null || grants.some((g) => !PUBLIC_GRANTS.includes(g))))
    const { secret: _, ...rest } = spec
    return { document: { ...doc, spec: secret ? { ...rest, secret: SECRET_PLACEHOLDER } : rest }, findings }
  },
  async plan(db, doc, stored) {
    const parsed = ClientDocument.parse(doc)
    const { secret: wanted, ...spec } = parsed.spec
    const kept = wanted === undefined ? null : (stored?.secret_hash ?? null)
    const secret = wanted !== undefined && kept === null ? newClientSecret() : undefined
    const secretHash = secret ? await hashSecret(secret) : kept
    const planned = await planClient(db, { ...parsed, spec }, { secretHash })
    return { planned, ...(secret ? { secret } : {}) }
  },
  async references(db, row) {
    const bound = await db
      .selectFrom('policy_bindings')
      .selectAll()
      .where('client_id', '=', row.client_id)
      .orderBy('path')
      .execute()
    const introspected = await db
      .selectFrom('resources')
      .select('name')
      .where(sql<boolean>`${row.client_id} = any(introspectors)`)
      .orderBy('name')
      .execute()
    // The current version of every path in force: one that trusts this client as an actor, a holder or an
    // intermediary would trust a client registered again under this id.
    const { rows: live } = await sql<{ path: string; document: { spec?: PolicyPathSpec } }>`
      select path, document from (select distinct on (path) path, document, retired from policy_path_versions
      order by path, version desc) v where not v.retired order by path`.execute(db)
    const trusted = live.flatMap(({ path, document: { spec } }) =>
      trustFields(spec ?? {}, row.client_id).map((field) =>
        finding('trusted', `policy path ${path} trusts this client (${field})`, field, `PolicyPath ${path}`),
      ),
    )
    return [
      ...trusted,
      ...bound.map((b) =>
        finding(
          'bound',
          `policy path ${b.path} binds this client to ${b.resource} (${b.grant_type})`,
          '/spec/bindings',
          `PolicyPath ${b.path}`,
        ),
      ),
      ...introspected.map((r) =>
        finding(
          'introspector',
          `resource ${r.name} lets this client introspect its tokens`,
          '/spec/introspectors',
          `Resource ${r.name}`,
        ),
      ),
    ]
  },
  async remove(db, row, now) {
    const revoked = await revokeTokensOf(db, { client: row.client_id }, now)
    // Its grants, codes and refresh tokens too: a client registered again under this id inherits none of them.
    await sql`delete from oidc_payloads p where p.payload->>'clientId' = ${row.client_id}
      or p.grant_id in (select g.id from oidc_payloads g where g.model = 'Grant' and g.payload->>'clientId' = ${row.client_id})`.execute(
      db,
    )
    await db.deleteFrom('clients').where('client_id', '=', row.client_id).execute()
    return { revoked_tokens: revoked }
  },
}
