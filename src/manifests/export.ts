// `mandate export <dir>` (issue 13): the documents in force written back as YAML, one file a document, so a
// Git repository can stay the source of truth (GitOps): `mandate apply <dir>` of an export changes nothing.
// Clients, resources, issuers and users are rebuilt from their columns and checked against the content hash
// apply stored (a form the columns cannot tell apart, such as `labels: {}` against none, is tried both ways);
// policy paths are their current stored document. Never a secret in plain: a client secret is written as the
// stored hash (spec.secretHash), a user's password only as the hash their document gave (spec.passwordHash),
// and an issuer's login.clientSecret, which Mandate must keep in plain to use it, is left out with a note.
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Kysely, Selectable } from 'kysely'
import { ADMIN_RESOURCE_NAME } from '../admin/bootstrap.ts'
import { CONSOLE_CLIENT } from '../admin/console-client.ts'
import { ClientDocument } from '../clients/schema.ts'
import type { ClientsTable, DB, IssuersTable, ResourcesTable, UsersTable } from '../db/schema.ts'
import { documentYaml } from '../documents/yaml.ts'
import { IssuerDocument } from '../issuers/schema.ts'
import { contentHash } from '../lib/canonical-json.ts'
import { formatDuration } from '../lib/duration.ts'
import { liveDocument, livePaths } from '../policy/store.ts'
import { ResourceDocument } from '../resources/schema.ts'
import { UserDocument } from '../users/schema.ts'
import { issuerContentHash } from '../issuers/document.ts'

export interface ExportedFile {
  /** Where it goes, relative to the export folder: `<kind folder>/<name>.yaml`. */
  path: string
  kind: string
  name: string
  text: string
}

export interface Export {
  files: ExportedFile[]
  /** What an operator must know: a secret left out, a document whose form the columns could not restore. */
  notes: string[]
}

const API_VERSION = 'mandate/v1'
type Meta = { name: string; description?: string; labels?: Record<string, string> }

/** A document's metadata, with labels both ways when there are none (a document may have said `labels: {}`). */
function metadataOf(name: string, description: string | null, labels: unknown): Meta[] {
  const base: Meta = { name, ...(description ? { description } : {}) }
  const given = (labels ?? {}) as Record<string, string>
  return Object.keys(given).length > 0 ? [{ ...base, labels: given }] : [base, { ...base, labels: {} }]
}

/** Only what differs from the schema's default, so the YAML reads like a hand-written document. */
const unless = <T>(value: T, isDefault: boolean, key: string) => (isDefault ? {} : { [key]: value })
const list = (key: string, values: readonly string[]) => unless(values, values.length === 0, key)
const flag = (key: string, value: boolean) => unless(value, !value, key)

/**
 * The first candidate whose content hash is the stored one (what apply wrote), else the first: then applying
 * the export records an update of the same content, which the notes say.
 */
function pick<D>(candidates: D[], hashOf: (doc: D) => string, stored: string | null, what: string, notes: string[]): D {
  const match = candidates.find((doc) => hashOf(doc) === stored)
  if (match) return match
  notes.push(`${what}: rebuilt from its stored columns; applying the export records an update with the same effect`)
  return candidates[0] as D
}

function clientDocument(row: Selectable<ClientsTable>, notes: string[]) {
  const spec = {
    profile: row.profile,
    ...(row.secret_hash ? { secretHash: row.secret_hash } : {}),
    ...(row.jwks ? { jwks: row.jwks } : {}),
    ...list('grantTypes', row.grant_types),
    ...list('redirectUris', row.redirect_uris),
    ...list('postLogoutRedirectUris', row.post_logout_redirect_uris),
    ...flag('agent', row.agent),
    ...list('scopes', row.scopes),
    ...flag('disabled', row.disabled_by_document),
    ...flag('dpopBoundAccessTokens', row.dpop_bound_access_tokens),
    ...(row.approval_webhook ? { approvalWebhook: row.approval_webhook } : {}),
  }
  const candidates = metadataOf(row.client_id, row.description, row.labels).map((metadata) => ({
    apiVersion: API_VERSION,
    kind: 'Client',
    metadata,
    spec,
  }))
  // As clients/plan-apply.ts hashes it: the parsed document without its secret (or secret hash).
  const hashOf = (doc: unknown) => {
    const parsed = ClientDocument.safeParse(doc)
    if (!parsed.success) return ''
    const { secret: _secret, secretHash: _hash, ...rest } = parsed.data.spec
    return contentHash({ metadata: parsed.data.metadata, spec: rest })
  }
  return pick(candidates, hashOf, row.content_hash, `Client/${row.client_id}`, notes)
}

function resourceDocument(row: Selectable<ResourcesTable>, notes: string[]) {
  const descriptions = (row.scope_descriptions ?? {}) as Record<string, string>
  const spec = {
    uri: row.uri,
    ...(row.scopes.length > 0
      ? { scopes: row.scopes.map((name) => (descriptions[name] ? { name, description: descriptions[name] } : name)) }
      : {}),
    ...list('introspectors', row.introspectors),
    accessTokenLifetime: formatDuration(row.access_token_lifetime),
    ...(row.revocation_webhook ? { revocationWebhook: row.revocation_webhook } : {}),
  }
  const candidates = metadataOf(row.name, row.description, row.labels).map((metadata) => ({
    apiVersion: API_VERSION,
    kind: 'Resource',
    metadata,
    spec,
  }))
  const hashOf = (doc: unknown) => {
    const parsed = ResourceDocument.safeParse(doc)
    return parsed.success ? contentHash(parsed.data) : ''
  }
  return pick(candidates, hashOf, row.content_hash, `Resource/${row.name}`, notes)
}

function issuerDocument(row: Selectable<IssuersTable>, notes: string[]) {
  const login = row.login as { clientId: string; clientSecret: string; scopes: string[] } | null
  const spec = {
    issuer: row.issuer,
    ...(row.jwks_uri ? { jwksUri: row.jwks_uri } : {}),
    ...(row.jwks ? { jwks: row.jwks } : {}),
    algorithms: row.algorithms,
    ...(row.audience ? { audience: row.audience } : {}),
    ...unless(row.tokens_without_scope, row.tokens_without_scope === 'none', 'tokensWithoutScope'),
    // The upstream client secret is kept in plain (Mandate sends it upstream): never exported.
    ...(login ? { login: { clientId: login.clientId, scopes: login.scopes } } : {}),
  }
  const candidates = metadataOf(row.name, row.description, row.labels).map((metadata) => ({
    apiVersion: API_VERSION,
    kind: 'Issuer',
    metadata,
    spec,
  }))
  if (login) {
    notes.push(
      `Issuer/${row.name}: spec.login.clientSecret is a secret and is not exported: add it before applying the file`,
    )
    return candidates[0]
  }
  const hashOf = (doc: unknown) => {
    const parsed = IssuerDocument.safeParse(doc)
    return parsed.success ? issuerContentHash(parsed.data) : ''
  }
  return pick(candidates, hashOf, row.content_hash, `Issuer/${row.name}`, notes)
}

function userDocument(row: Selectable<UsersTable>, notes: string[]) {
  const spec = {
    ...(row.email ? { email: row.email } : {}),
    ...(row.display_name ? { displayName: row.display_name } : {}),
    ...flag('disabled', row.disabled_by_document),
  }
  // A password hash only when the user's document gave it; one set with `mandate user set-password` stays out.
  const specs = row.password_hash ? [spec, { ...spec, passwordHash: row.password_hash }] : [spec]
  const candidates = metadataOf(row.username, null, {}).flatMap((metadata) =>
    specs.map((s) => ({ apiVersion: API_VERSION, kind: 'User', metadata, spec: s })),
  )
  const hashOf = (doc: unknown) => {
    const parsed = UserDocument.safeParse(doc)
    return parsed.success ? contentHash(parsed.data) : ''
  }
  return pick(candidates, hashOf, row.content_hash, `User/${row.username}`, notes)
}

/** Every document in force, as the files of an export (nothing is written here). */
export async function exportDocuments(db: Kysely<DB>): Promise<Export> {
  const notes: string[] = []
  const files: ExportedFile[] = []
  const add = (folder: string, kind: string, name: string, document: unknown, comment?: string) =>
    files.push({
      path: `${folder}/${name}.yaml`,
      kind,
      name,
      text: `${comment ? `# ${comment}\n` : ''}${documentYaml(document)}\n`,
    })
  // The admin console's client is every server's own (admin/console-client.ts), ensured from its configuration.
  for (const row of await db
    .selectFrom('clients')
    .selectAll()
    .where('client_id', '<>', CONSOLE_CLIENT)
    .orderBy('client_id')
    .execute())
    add(
      'clients',
      'Client',
      row.client_id,
      clientDocument(row, notes),
      row.secret_hash
        ? 'spec.secretHash is the stored hash of the secret, never the secret: to rotate, write spec.secret instead'
        : undefined,
    )
  // The built-in admin resource is every server's own (admin/bootstrap.ts): no document declares it.
  for (const row of await db
    .selectFrom('resources')
    .selectAll()
    .where('name', '<>', ADMIN_RESOURCE_NAME)
    .orderBy('name')
    .execute())
    add('resources', 'Resource', row.name, resourceDocument(row, notes))
  for (const row of await db.selectFrom('issuers').selectAll().orderBy('name').execute())
    add(
      'issuers',
      'Issuer',
      row.name,
      issuerDocument(row, notes),
      row.login ? 'spec.login.clientSecret is not exported (a secret): add it before applying this file' : undefined,
    )
  // People who signed in upstream have no document (source upstream): they are not exported.
  for (const row of await db
    .selectFrom('users')
    .selectAll()
    .where('source', '=', 'document')
    .orderBy('username')
    .execute())
    add('users', 'User', row.username, userDocument(row, notes))
  // A path's slashes are folders: acme/support is policy-paths/acme/support.yaml, beside policy-paths/acme.yaml.
  for (const name of await livePaths(db)) {
    const current = await liveDocument(db, name)
    if (current) add('policy-paths', 'PolicyPath', name, current.document)
  }
  return { files, notes }
}

/** Why dir cannot take an export (it holds something: an export never mixes with other files), or undefined. */
export async function exportFolderProblem(dir: string): Promise<string | undefined> {
  const present = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return []
    if (error.code === 'ENOTDIR') return [dir]
    throw error
  })
  return present.length > 0 ? `${dir} is not an empty folder: export into a new or empty one` : undefined
}

/** Writes the files under dir (created when missing); a file already there is never overwritten. */
export async function writeExport(dir: string, exported: Export): Promise<void> {
  const problem = await exportFolderProblem(dir)
  if (problem) throw new Error(problem)
  for (const file of exported.files) {
    // Names are validated by their schemas (no "/" but a policy path's, no ".."): checked again, as a path.
    if (file.path.split('/').some((segment) => segment === '' || segment.startsWith('.')))
      throw new Error(`${file.kind} ${file.name} cannot be a file name`)
    const target = join(dir, file.path)
    await mkdir(dirname(target), { recursive: true })
    await writeFile(target, file.text, { flag: 'wx' })
  }
}
