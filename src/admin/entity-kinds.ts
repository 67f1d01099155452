// The registered entities on the admin API (issue 13): clients, resources, trusted issuers and users. Each
// kind says how its rows read as the documents `mandate apply` takes (never a secret), which planner of
// `apply` writes one, what still names it (a delete is refused while anything does) and what deleting it ends.
import { randomBytes } from 'node:crypto'
import { type Kysely, sql } from 'kysely'
import { clientDocument } from '../clients/document.ts'
import { planClient } from '../clients/plan-apply.ts'
import { ClientDocument } from '../clients/schema.ts'
import { hashSecret } from '../clients/secret-hash.ts'
import { type ClientRow, findClient } from '../clients/store.ts'
import type { DB } from '../db/schema.ts'
import type { Planned } from '../documents/plan.ts'
import { issuerDocument } from '../issuers/document.ts'
import { planIssuer } from '../issuers/plan-apply.ts'
import { IssuerDocument } from '../issuers/schema.ts'
import { findIssuerByName, type IssuerRow } from '../issuers/store.ts'
import { contentHash } from '../lib/canonical-json.ts'
import { revokeTokensOf } from '../lineage/revoke-of.ts'
import { AUTHORIZATION_CODE, REFRESH_TOKEN } from '../oauth/protocol.ts'
import { resourceDocument } from '../resources/document.ts'
import { planResource } from '../resources/plan-apply.ts'
import { ResourceDocument } from '../resources/schema.ts'
import { findResourceByName, type ResourceRow } from '../resources/store.ts'
import { userDocument } from '../users/document.ts'
import { planUser } from '../users/plan-apply.ts'
import { UserDocument } from '../users/schema.ts'
import { findUser, setUserDisabled, type UserRow } from '../users/store.ts'
import { ADMIN_RESOURCE } from './bootstrap.ts'

export const ENTITY_KINDS = ['clients', 'resources', 'issuers', 'users'] as const
export type EntityKind = (typeof ENTITY_KINDS)[number]

export interface Finding {
  severity: 'error'
  code: string
  message: string
  /** RFC 6901 JSON pointer into the document (the one sent, or the one that names the entity). */
  path: string
  /** The other document a finding is about ("PolicyPath acme/x"). */
  document?: string
}

export type Plain = Record<string, unknown>
export const isPlain = (value: unknown): value is Plain =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

export const finding = (code: string, message: string, path: string, document?: string): Finding => ({
  severity: 'error',
  code,
  message,
  path,
  ...(document ? { document } : {}),
})

export interface KindRules<Row> {
  kind: 'Client' | 'Resource' | 'Issuer' | 'User'
  table: 'clients' | 'resources' | 'issuers' | 'users'
  key: 'client_id' | 'name' | 'username'
  find(db: Kysely<DB>, id: string): Promise<Row | undefined>
  list(db: Kysely<DB>): Promise<Row[]>
  /** The stored entity as the document `mandate apply` reads, without any secret. */
  document(row: Row): Plain
  /** The entity tag (RFC 9110 §8.8.3): the content hash the audit trail names too. */
  etag(row: Row): string
  summary(row: Row): Plain
  /**
   * The document to validate and save: what the API refuses to carry (a secret, a password hash) as findings,
   * what a document read back leaves out (the stored secret of an upstream sign-in) filled in.
   */
  prepare(
    doc: Plain,
    stored: Row | undefined,
    options: { confidential?: boolean },
  ): { document: Plain; findings: Finding[] }
  /** The plan of `apply` for the prepared, validated document; `secret` is a client secret generated for it. */
  plan(db: Kysely<DB>, doc: Plain, stored: Row | undefined): Promise<{ planned: Planned; secret?: string }>
  /** What names the entity: while anything does, it is not deleted (409). */
  references(db: Kysely<DB>, row: Row): Promise<Finding[]>
  /** A reason it may never be changed or deleted through the API, if any. */
  builtIn?(row: Row): string | undefined
  /** Deletes it, and ends what hung on it; what was ended, for the audit event. */
  remove(db: Kysely<DB>, row: Row, now: Date): Promise<Plain>
}

const stamp = (row: { content_hash: string | null }, document: Plain) => row.content_hash ?? contentHash(document)

/** Grants a public client may use (clients/schema.ts): any other needs a credential. */
const PUBLIC_GRANTS: readonly unknown[] = [AUTHORIZATION_CODE, REFRESH_TOKEN]
/** Stands in for the secret while the document is validated; the stored one is a hash of a generated secret. */
const SECRET_PLACEHOLDER = 'generated-by-mandate-0000000000000000000000'

/** A new client secret: 32 random bytes, base64url (256 bits, RFC 6749 §10.10 asks for at least 128). */
export const newClientSecret = (): string => randomBytes(32).toString('base64url')

const clients: KindRules<ClientRow> = {
  kind: 'Client',
  table: 'clients',
  key: 'client_id',
  find: findClient,
  list: (db) => db.selectFrom('clients').selectAll().orderBy('client_id').execute(),
  document: clientDocument,
  etag: (row) => row.content_hash,
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
    return [
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

const resources: KindRules<ResourceRow> = {
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

const issuers: KindRules<IssuerRow> = {
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
    const storedSecret = (stored?.login as { clientSecret?: string } | null)?.clientSecret
    if (!spec || !login || login.clientSecret !== undefined || !storedSecret) return { document: doc, findings: [] }
    return { document: { ...doc, spec: { ...spec, login: { ...login, clientSecret: storedSecret } } }, findings: [] }
  },
  plan: async (db, doc) => ({ planned: await planIssuer(db, IssuerDocument.parse(doc)) }),
  async references(db, row) {
    // The current (latest) version of every path that accepts subject tokens of this issuer.
    const { rows } = await sql<{ path: string }>`
      select path from (select distinct on (path) path, document from policy_path_versions order by path, version desc) v
      where v.document->'spec'->'subjectTokens'->'issuers' ? ${row.name} order by path`.execute(db)
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

const users: KindRules<UserRow> = {
  kind: 'User',
  table: 'users',
  key: 'username',
  find: findUser,
  list: (db) => db.selectFrom('users').selectAll().orderBy('username').execute(),
  document: userDocument,
  etag: (row) => stamp(row, userDocument(row)),
  summary: (row) => ({
    username: row.username,
    email: row.email,
    display_name: row.display_name,
    source: row.source,
    disabled: row.disabled_at !== null,
    password: row.password_hash !== null,
    updated_at: row.updated_at,
  }),
  prepare(doc) {
    const spec = isPlain(doc.spec) ? doc.spec : undefined
    if (spec?.passwordHash === undefined) return { document: doc, findings: [] }
    return {
      document: doc,
      findings: [
        finding(
          'password_not_here',
          'passwords are set with `mandate user set-password` (or a document applied with `mandate apply`), never through the admin API; leave spec.passwordHash out to keep the stored one',
          '/spec/passwordHash',
        ),
      ],
    }
  },
  plan: async (db, doc) => ({ planned: await planUser(db, UserDocument.parse(doc)) }),
  references: async () => [],
  async remove(db, row, now) {
    // As disabling does: their sessions, grants, codes and refresh tokens go; then their tokens, whose
    // activity could no longer read the row.
    await setUserDisabled(db, row.username, { cli: true }, now)
    const revoked = await revokeTokensOf(db, { user: row.username }, now)
    await db.deleteFrom('users').where('username', '=', row.username).execute()
    return { revoked_tokens: revoked }
  },
}

/** The row each kind reads. */
export interface Rows {
  clients: ClientRow
  resources: ResourceRow
  issuers: IssuerRow
  users: UserRow
}

export const KINDS: { [K in EntityKind]: KindRules<Rows[K]> } = { clients, resources, issuers, users }

/** Serialises changes of one entity (also its creation, when there is no row to lock yet). */
export async function lockEntity(db: Kysely<DB>, kind: EntityKind, id: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${`mandate.entity:${kind}:${id}`}))`.execute(db)
}
