// Changing clients, resources, trusted issuers and users through the admin API (issue 13), so integrations
// are registered without files: the checks of `mandate apply`, against the version read (If-Match, RFC 9110
// §13.1.1), with a reason, each change and its audit event in one transaction. Refusals write nothing.
// Plain functions of (deps, arguments) → outcome: the koa edge (entity-routes.ts) and the web page share them.
import { type Kysely, sql } from 'kysely'
import { writeAudit } from '../audit/write.ts'
import { ADMIN_SCOPE } from '../clients/schema.ts'
import { hashSecret } from '../clients/secret-hash.ts'
import { setDisabledBy } from '../clients/store.ts'
import type { DB } from '../db/schema.ts'
import { documentChanges } from '../documents/changes.ts'
import { type Clock, toDate } from '../lib/clock.ts'
import { disableUser, enableUser } from '../users/disable.ts'
import { clientRules, newClientSecret } from './client-entity.ts'
import { type EntityKind, KINDS, lockEntity, type Rows } from './entity-kinds.ts'
import { type Finding, finding, isPlain, type KindRules, type Plain } from './entity-rules.ts'
import type { Problem } from './problem.ts'

export interface EntityDeps {
  db: Kysely<DB>
  clock: Clock
  /** Documents validated as `mandate apply` validates them, nothing written (manifests/validate.ts). */
  validateDocuments(text: string): Promise<Array<{ severity: string }>>
}

export type Outcome = { ok: true; status: number; body: Plain; etag?: string } | { ok: false; problem: Problem }

/** Who changes what, and why: `admin:<client_id>` (or a signed-in person), and their words. */
export interface Change {
  actor: string
  reason: unknown
}

const refuse = (status: number, title: string, detail: string, findings: Finding[] = []): Outcome => ({
  ok: false,
  problem: { status, title, detail, ...(findings.length > 0 ? { findings } : {}) },
})
const bad = (detail: string) => refuse(400, 'Bad request', detail)
const notFound = (kind: EntityKind, id: string) => refuse(404, 'Not found', `no ${noun(kind)} ${id}`)
const noun = (kind: EntityKind) => kind.slice(0, -1)
const reasonProblem = (reason: unknown) =>
  typeof reason !== 'string' || reason.trim() === '' || reason.length > 1000
    ? bad('reason is required: why this change (1 to 1000 characters)')
    : undefined

/** RFC 9110 §13.1.1: If-Match is required to change what exists (428), and must name its current tag (412). */
function precondition(ifMatch: string | undefined, etag: string | undefined, what: string): Outcome | undefined {
  if (etag !== undefined && !ifMatch)
    return refuse(428, 'Precondition required', `If-Match with the ETag you read is required to change ${what}`)
  if (!ifMatch) return undefined
  const tags = ifMatch.split(',').map((tag) => tag.trim())
  if (etag !== undefined && (tags.includes('*') || tags.includes(`"${etag}"`))) return undefined
  return refuse(
    412,
    'Precondition failed',
    `${what} ${etag === undefined ? 'does not exist' : 'has changed'}: read it again`,
  )
}

/** Whether a client document still holds mandate:admin, enabled (the caller's own, validated). */
const keepsAdmin = (doc: Plain) => {
  const spec = isPlain(doc.spec) ? doc.spec : {}
  return Array.isArray(spec.scopes) && spec.scopes.includes(ADMIN_SCOPE) && spec.disabled !== true
}

/** Locks the entity for this transaction (its row too, so `apply` waits) and reads it. */
async function lockAndRead<K extends EntityKind>(trx: Kysely<DB>, kind: K, id: string): Promise<Rows[K] | undefined> {
  const rules: KindRules<Rows[K]> = KINDS[kind]
  await lockEntity(trx, kind, id)
  await sql`select 1 from ${sql.table(rules.table)} where ${sql.ref(rules.key)} = ${id} for update`.execute(trx)
  return rules.find(trx, id)
}

export async function listEntities(db: Kysely<DB>, kind: EntityKind): Promise<Plain[]> {
  const rules = KINDS[kind] as KindRules<unknown>
  return (await rules.list(db)).map((row) => rules.summary(row))
}

/** The entity as the document `mandate apply` reads, and its ETag; undefined when there is none. */
export async function readEntity(
  db: Kysely<DB>,
  kind: EntityKind,
  id: string,
): Promise<{ document: Plain; etag: string } | undefined> {
  const rules = KINDS[kind] as KindRules<unknown>
  const row = id.includes('\u0000') ? undefined : await rules.find(db, id)
  return row === undefined ? undefined : { document: rules.document(row), etag: rules.etag(row) }
}

/**
 * `PUT …/{kind}/{id}`: creates the entity or replaces its document. A confidential client created here (or
 * made confidential) gets a secret Mandate generates, answered once as `client_secret` and stored as a hash.
 */
export async function putEntity(
  deps: EntityDeps,
  kind: EntityKind,
  id: string,
  input: Change & { document: unknown; ifMatch: string | undefined; confidential?: unknown; self?: string },
): Promise<Outcome> {
  const rules = KINDS[kind] as KindRules<unknown>
  const refused = reasonProblem(input.reason)
  if (refused) return refused
  if (!isPlain(input.document)) return bad(`document is the ${rules.kind} document as a JSON object`)
  const { confidential } = input
  if (confidential !== undefined && (kind !== 'clients' || typeof confidential !== 'boolean'))
    return bad('confidential is true or false, for a client only')
  const doc = input.document
  const metadata = isPlain(doc.metadata) ? doc.metadata : {}
  const own: Finding[] = []
  if (doc.kind !== rules.kind) own.push(finding('kind_mismatch', `kind must be ${rules.kind} at this URL`, '/kind'))
  if (metadata.name !== id)
    own.push(finding('name_mismatch', `metadata.name must be ${id}, the id in this URL`, '/metadata/name'))
  if (own.length > 0) return refuse(422, 'Invalid document', 'the document does not name this entity', own)

  const before = await rules.find(deps.db, id)
  const prepared = rules.prepare(doc, before, confidential === undefined ? {} : { confidential })
  // The same checks as apply, on the document as JSON (line and column are those of its pretty form).
  const found = (await deps.validateDocuments(JSON.stringify(prepared.document, null, 2))) as Finding[]
  const errors = [...prepared.findings, ...found.filter((f) => f.severity === 'error')]
  if (errors.length > 0) return refuse(422, 'Invalid document', 'the document has errors', errors)
  if (kind === 'clients' && id === input.self && !keepsAdmin(prepared.document))
    return refuse(409, 'Conflict', 'an admin client cannot take mandate:admin from itself or disable itself')

  return deps.db.transaction().execute(async (trx): Promise<Outcome> => {
    const current = await lockAndRead(trx, kind, id)
    const etag = current === undefined ? undefined : rules.etag(current)
    const unmet = precondition(input.ifMatch, etag, `${noun(kind)} ${id}`)
    if (unmet) return unmet
    const fixed = current === undefined ? undefined : rules.builtIn?.(current)
    if (fixed) return refuse(409, 'Built in', fixed)
    const moves = current !== undefined && rules.moves?.(current, prepared.document) === true
    const named = moves ? await rules.references(trx, current) : []
    if (named.length > 0)
      return refuse(409, 'Still referenced', `${noun(kind)} ${id} is still named as it is: change those first`, named)
    const { planned, secret } = await rules.plan(trx, prepared.document, current)
    if (planned.action === 'unchanged')
      return { ok: true, status: 200, etag: planned.digest, body: { kind, id, changed: false, changes: [] } }
    const now = deps.clock.now()
    await planned.write(trx, toDate(now))
    const ended = moves && current !== undefined ? await rules.moved?.(trx, current, toDate(now)) : undefined
    const after = await rules.find(trx, id)
    const changes = current === undefined ? [] : documentChanges(rules.document(current), rules.document(after))
    if (secret && current !== undefined) changes.push('generates a client secret')
    await writeAudit(trx, {
      type: current === undefined ? 'document.created' : 'document.updated',
      at: now,
      actor: input.actor,
      requestId: null,
      data: {
        kind: rules.kind,
        name: id,
        version: null,
        digest: planned.digest,
        previous_digest: planned.previousDigest,
        reason: input.reason,
        changes,
        ...ended,
        source: 'admin-api',
      },
    })
    return {
      ok: true,
      status: current === undefined ? 201 : 200,
      etag: planned.digest,
      body: { kind, id, changed: true, changes, ...ended, ...(secret ? { client_secret: secret } : {}) },
    }
  })
}

/**
 * `DELETE …/{kind}/{id}`: against the version read, refused (409) while a policy binding (or a resource's
 * introspectors, or a path's subject issuers) still names it. What hung on it ends with it: the tokens a
 * deleted client held or acted in, the tokens of a deleted user or for a deleted resource are revoked.
 */
export async function deleteEntity(
  deps: EntityDeps,
  kind: EntityKind,
  id: string,
  input: Change & { ifMatch: string | undefined; self?: string },
): Promise<Outcome> {
  const rules = KINDS[kind] as KindRules<unknown>
  const refused = reasonProblem(input.reason)
  if (refused) return refused
  return deps.db.transaction().execute(async (trx): Promise<Outcome> => {
    const current = await lockAndRead(trx, kind, id)
    if (current === undefined) return notFound(kind, id)
    const unmet = precondition(input.ifMatch, rules.etag(current), `${noun(kind)} ${id}`)
    if (unmet) return unmet
    const fixed = rules.builtIn?.(current)
    if (fixed) return refuse(409, 'Built in', fixed)
    if (kind === 'clients' && id === input.self)
      return refuse(409, 'Conflict', 'an admin client cannot delete itself (it would lose the admin API)')
    const references = await rules.references(trx, current)
    if (references.length > 0)
      return refuse(
        409,
        'Still referenced',
        `${noun(kind)} ${id} is still named elsewhere: change those first`,
        references,
      )
    const now = deps.clock.now()
    const ended = await rules.remove(trx, current, toDate(now))
    await writeAudit(trx, {
      type: 'document.deleted',
      at: now,
      actor: input.actor,
      requestId: null,
      data: {
        kind: rules.kind,
        name: id,
        digest: null,
        previous_digest: rules.etag(current),
        reason: input.reason,
        ...ended,
        source: 'admin-api',
      },
    })
    return { ok: true, status: 200, body: { kind, id, deleted: true, ...ended } }
  })
}

/**
 * `POST …/{clients|users}/{id}:disable|:enable`: what `mandate client|user disable|enable` does (the
 * operator's switch, beside the document's own spec.disabled), with a reason. Disabling ends every token of
 * the client or user at once, on every process; enabling never revives one.
 */
export async function switchEntity(
  deps: EntityDeps,
  kind: 'clients' | 'users',
  id: string,
  input: Change & { disabled: boolean; self?: string },
): Promise<Outcome> {
  const refused = reasonProblem(input.reason)
  if (refused) return refused
  if (kind === 'clients' && input.disabled && id === input.self)
    return refuse(409, 'Conflict', 'an admin client cannot disable itself (it would lose the admin API)')
  const why = { reason: input.reason, source: 'admin-api' }
  const now = deps.clock.now()
  return deps.db.transaction().execute(async (trx): Promise<Outcome> => {
    const current = await lockAndRead(trx, kind, id)
    if (!current) return notFound(kind, id)
    // Disabling a built-in client is a change like a PUT (enabling one again is always allowed).
    const fixed = input.disabled ? (KINDS[kind] as KindRules<unknown>).builtIn?.(current) : undefined
    if (fixed) return refuse(409, 'Built in', fixed)
    if (kind === 'users') {
      const state = input.disabled
        ? { changed: await disableUser(trx, id, toDate(now), input.actor, why), disabled: true }
        : await enableUser(trx, id, toDate(now), input.actor, why)
      return { ok: true, status: 200, body: { kind, id, ...state } }
    }
    const state = await setDisabledBy(trx, id, { cli: input.disabled })
    if (!state) return notFound(kind, id)
    const changed = state.before.byCli !== state.after.byCli
    if (changed)
      await writeAudit(trx, {
        type: input.disabled ? 'client.disabled' : 'client.enabled',
        at: now,
        actor: input.actor,
        requestId: null,
        data: { client_id: id, disabled: state.after.disabled, by_document: state.after.byDocument, ...why },
      })
    return { ok: true, status: 200, body: { kind, id, changed, disabled: state.after.disabled } }
  })
}

/**
 * `POST /admin/v1/clients/{id}:rotate-secret`: a new generated secret, answered once; the old one stops
 * working at once (only the new hash is stored). Tokens already issued stay as they are.
 */
export async function rotateClientSecret(deps: EntityDeps, id: string, input: Change): Promise<Outcome> {
  const refused = reasonProblem(input.reason)
  if (refused) return refused
  const secret = newClientSecret()
  const hash = await hashSecret(secret)
  return deps.db.transaction().execute(async (trx): Promise<Outcome> => {
    const current = await lockAndRead(trx, 'clients', id)
    if (!current) return notFound('clients', id)
    // The console's secret is derived at every start: a rotated one would hand out a working secret of it.
    const fixed = clientRules.builtIn?.(current)
    if (fixed) return refuse(409, 'Built in', fixed)
    if (current.secret_hash === null)
      return refuse(409, 'No secret', `client ${id} has no secret to rotate`, [
        finding(
          'no_secret',
          current.jwks === null
            ? 'a public client has no secret: PUT it with confidential: true to give it one'
            : 'this client authenticates with private_key_jwt (spec.jwks)',
          '/spec',
        ),
      ])
    const now = deps.clock.now()
    await trx
      .updateTable('clients')
      .set({ secret_hash: hash, updated_at: toDate(now) })
      .where('client_id', '=', id)
      .execute()
    await writeAudit(trx, {
      type: 'client.secret_rotated',
      at: now,
      actor: input.actor,
      requestId: null,
      data: { client_id: id, reason: input.reason, source: 'admin-api' },
    })
    return { ok: true, status: 200, body: { kind: 'clients', id, client_secret: secret } }
  })
}
