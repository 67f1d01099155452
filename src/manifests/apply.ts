// `mandate apply`: load and validate every document first, check references across them and the
// database, then write all changes in one transaction, each with its audit event. Any finding means
// nothing is written. Each policy path version records its source (the file and its sha-256); with
// `prune`, the policy paths the documents no longer declare are retired in the same transaction
// (manifests/prune.ts).
import type { Kysely } from 'kysely'
import { type AuditEvent, writeAudit } from '../audit/write.ts'
import { planClient } from '../clients/plan-apply.ts'
import { ADMIN_SCOPE, ClientDocument } from '../clients/schema.ts'
import { listClientIds, listClientIdsWithScope } from '../clients/store.ts'
import type { DB } from '../db/schema.ts'
import type { Clock } from '../lib/clock.ts'
import { toDate } from '../lib/clock.ts'
import { planIssuer } from '../issuers/plan-apply.ts'
import { IssuerDocument } from '../issuers/schema.ts'
import type { OutboundRules } from '../outbound/rules.ts'
import { type Change, diffDocuments } from '../policy/diff.ts'
import { planPolicyPath } from '../policy/plan-apply.ts'
import { PolicyPathDocument, SELF_ISSUER } from '../policy/schema.ts'
import { listBindings, liveDocument } from '../policy/store.ts'
import { planResource } from '../resources/plan-apply.ts'
import { ResourceDocument } from '../resources/schema.ts'
import { planUser } from '../users/plan-apply.ts'
import { UserDocument } from '../users/schema.ts'
import { existingUsernames } from '../users/store.ts'
import { adminBindingFindings } from './admin-bindings.ts'
import { type Finding, type Located, loadDocuments } from './load.ts'
import { outboundUrlFindings } from './outbound-urls.ts'
import type { Planned, Written } from '../documents/plan.ts'
import { type PrunePlan, planPrune, prunePolicyPaths } from './prune.ts'
import type { ValidationFinding } from './validate.ts'

/** Every document kind `mandate apply` accepts, in the order they are written (dependencies first). */
export const documentKinds = {
  Client: ClientDocument,
  User: UserDocument,
  Resource: ResourceDocument,
  Issuer: IssuerDocument,
  PolicyPath: PolicyPathDocument,
} as const
export type AnyDocument = ClientDocument | UserDocument | ResourceDocument | IssuerDocument | PolicyPathDocument
/** A finding at a field of a document (file:line:col of that field). */
export type At = (doc: Located<AnyDocument>, path: PropertyKey[], message: string) => Finding

const planners: {
  [K in AnyDocument['kind']]: (db: Kysely<DB>, doc: Extract<AnyDocument, { kind: K }>) => Promise<Planned>
} = {
  Client: planClient,
  User: planUser,
  Resource: planResource,
  Issuer: planIssuer,
  PolicyPath: planPolicyPath,
}
const plan = (db: Kysely<DB>, located: Located<AnyDocument>, reason: string | undefined): Promise<Planned> => {
  const doc = located.document
  // A policy path's version says where it came from: this file, as given, and the sha-256 of its bytes.
  if (doc.kind === 'PolicyPath')
    return planPolicyPath(db, doc, { source: { kind: 'file', file: located.file, digest: located.digest }, reason })
  return (planners[doc.kind] as (db: Kysely<DB>, doc: AnyDocument) => Promise<Planned>)(db, doc)
}

export interface ApplyResult {
  findings: Finding[]
  changes: Array<
    Pick<Planned, 'kind' | 'name' | 'action'> & {
      file: string
      line: number
      /** A PolicyPath created or updated: what changes against its current version, in words (policy/diff.ts). */
      diff?: Change[]
    }
  >
  /** With `prune`: what is retired (policy paths) and what is kept though no document declares it. */
  prune?: PrunePlan
  /** Warnings of the documents (scope_not_in_catalogue, wider_than_ancestor): shown, never refused. */
  warnings?: ValidationFinding[]
}

export interface ApplyOptions {
  dryRun?: boolean
  clock: Clock
  /** Who applies, for the audit trail: `cli:<os user>` for `mandate apply`, `serve` for `serve --apply`. */
  actor: string
  /** The rules for URLs the server will fetch (config `outbound`). */
  outbound: OutboundRules
  /** Why (recorded on each policy path version written and in the audit events). */
  reason?: string | undefined
  /** Also retire the policy paths in force that no document declares (the paths given are the whole truth). */
  prune?: boolean
  /** The documents' warnings (manifests/validate.ts policyWarnings, injected: validate.ts imports this file). */
  warnings?: (db: Kysely<DB>, documents: Located<AnyDocument>[]) => Promise<ValidationFinding[]>
}

/** Which schema validates a document of `kind` (undefined: no such kind). */
export const schemaForKind = (kind: unknown) =>
  typeof kind === 'string' && kind in documentKinds ? documentKinds[kind as keyof typeof documentKinds] : undefined

export async function applyDocuments(
  db: Kysely<DB>,
  paths: readonly string[],
  options: ApplyOptions,
): Promise<ApplyResult> {
  const kinds = Object.keys(documentKinds)
  const { documents, findings } = await loadDocuments<AnyDocument>(paths, schemaForKind, kinds)
  if (findings.length === 0) findings.push(...(await crossCheck(db, documents, options.outbound)))
  const pruning = findings.length === 0 && options.prune ? await planPrune(db, documents) : undefined
  if (pruning) findings.push(...pruning.findings)
  if (findings.length > 0) return { findings, changes: [] }
  const warnings = (await options.warnings?.(db, documents)) ?? []

  const ordered = [...documents].sort((a, b) => kinds.indexOf(a.document.kind) - kinds.indexOf(b.document.kind))
  const run = async (trx: Kysely<DB>) => {
    const changes: ApplyResult['changes'] = []
    for (const located of ordered) {
      const { document } = located
      const planned = await plan(trx, located, options.reason)
      // Read before the write: the version this one changes (none when the path is retired or new).
      const diff =
        document.kind === 'PolicyPath' && planned.action !== 'unchanged'
          ? diffDocuments((await liveDocument(trx, document.metadata.name))?.document, document)
          : undefined
      if (!options.dryRun && planned.action !== 'unchanged') {
        const written = await planned.write(trx, toDate(options.clock.now()))
        if (written.written) await writeAudit(trx, documentEvent(planned, written, located, options))
      }
      changes.push({
        kind: planned.kind,
        name: planned.name,
        action: planned.action,
        file: located.file,
        line: located.line,
        ...(diff ? { diff } : {}),
      })
    }
    // After the declared documents, in the same transaction: each retirement checks under its lock that no
    // path in force is below it.
    if (pruning && !options.dryRun) await prunePolicyPaths(trx, pruning.plan, paths, options)
    return changes
  }
  const changes = options.dryRun ? await run(db) : await db.transaction().execute(run)
  return { findings: [], changes, warnings, ...(pruning ? { prune: pruning.plan } : {}) }
}

/** One audit event per created or changed document, in the apply's transaction. */
const documentEvent = (
  planned: Planned,
  written: Written,
  located: Located<AnyDocument>,
  options: ApplyOptions,
): AuditEvent => ({
  type: planned.action === 'created' ? 'document.created' : 'document.updated',
  at: options.clock.now(),
  actor: options.actor,
  requestId: null,
  data: {
    kind: planned.kind,
    name: planned.name,
    version: written.version ?? null,
    digest: planned.digest,
    previous_digest: planned.previousDigest,
    // A policy path's event names its source, as its version does: the file as given and its sha-256.
    ...(planned.kind === 'PolicyPath' ? { source: { kind: 'file', file: located.file, digest: located.digest } } : {}),
    ...(options.reason ? { reason: options.reason } : {}),
  },
})

/** Findings for documents whose `value` another document, or another stored row, already uses. */
function usedOnce<D extends AnyDocument>(
  docs: Located<D>[],
  value: (doc: D) => string,
  stored: ReadonlyArray<{ name: string; value: string }>,
  path: string[],
  kind: string,
  what: string,
  at: At,
): Finding[] {
  const findings: Finding[] = []
  const owners = new Map<string, string>()
  for (const doc of docs) {
    const other = owners.get(value(doc.document))
    if (other && other !== doc.document.metadata.name)
      findings.push(at(doc, path, `${kind} ${other} already uses this ${what}`))
    owners.set(value(doc.document), doc.document.metadata.name)
  }
  for (const row of stored) {
    const doc = docs.find((d) => value(d.document) === row.value && d.document.metadata.name !== row.name)
    if (doc) findings.push(at(doc, path, `${kind} ${row.name} already uses this ${what}`))
  }
  return findings
}

/** References and uniqueness that no single document can check on its own (also `policy validate`). */
export async function crossCheck(
  db: Kysely<DB>,
  documents: Located<AnyDocument>[],
  outbound: OutboundRules,
): Promise<Finding[]> {
  const findings: Finding[] = []
  const at: At = (doc, path, message) => ({
    file: doc.file,
    ...doc.locate(path),
    message,
    path: path.map(String).join('.'),
  })

  const seen = new Map<string, Located<AnyDocument>>()
  for (const doc of documents) {
    const key = `${doc.document.kind}/${doc.document.metadata.name}`
    const first = seen.get(key)
    if (first) findings.push(at(doc, ['metadata', 'name'], `${key} is also defined at ${first.file}:${first.line}`))
    else seen.set(key, doc)
  }

  // A resource indicator names one Resource, an issuer URL one Issuer (tokens are matched to them by it).
  const resources = documents.filter((d): d is Located<ResourceDocument> => d.document.kind === 'Resource')
  const storedResources = await db.selectFrom('resources').select(['name', 'uri as value']).execute()
  findings.push(...usedOnce(resources, (d) => d.spec.uri, storedResources, ['spec', 'uri'], 'resource', 'uri', at))
  const issuers = documents.filter((d): d is Located<IssuerDocument> => d.document.kind === 'Issuer')
  const storedIssuers = await db.selectFrom('issuers').select(['name', 'issuer as value']).execute()
  findings.push(
    ...usedOnce(issuers, (d) => d.spec.issuer, storedIssuers, ['spec', 'issuer'], 'issuer', 'issuer URL', at),
  )

  const clients = new Set([
    ...(await listClientIds(db)),
    ...documents.filter((d) => d.document.kind === 'Client').map((d) => d.document.metadata.name),
  ])
  for (const doc of resources) {
    doc.document.spec.introspectors.forEach((clientId, index) => {
      if (!clients.has(clientId)) findings.push(at(doc, ['spec', 'introspectors', index], `unknown client ${clientId}`))
    })
  }
  findings.push(...(await checkUsernames(db, documents, clients, at)))
  findings.push(...(await checkPolicyPaths(db, documents, clients, at)))
  findings.push(...outboundUrlFindings(documents, outbound, at))
  const admins = { admins: await listClientIdsWithScope(db, ADMIN_SCOPE), bindings: await listBindings(db) }
  findings.push(...adminBindingFindings(documents, clients, admins, at))
  return findings
}

/**
 * A username is never a client_id, either way: a token's sub is the one or the other (with subject_issuer null),
 * so a user named like a client would be the subject of that client's own tokens, and disabling the user would
 * end them.
 */
async function checkUsernames(
  db: Kysely<DB>,
  documents: Located<AnyDocument>[],
  clients: ReadonlySet<string>,
  at: At,
): Promise<Finding[]> {
  const findings: Finding[] = []
  const users = documents.filter((d): d is Located<UserDocument> => d.document.kind === 'User')
  for (const doc of users) {
    const name = doc.document.metadata.name
    if (clients.has(name)) findings.push(at(doc, ['metadata', 'name'], `client ${name} already has this name`))
  }
  const named = new Set(users.map((d) => d.document.metadata.name))
  const clientDocs = documents.filter((d) => d.document.kind === 'Client')
  const stored = await existingUsernames(
    db,
    clientDocs.map((d) => d.document.metadata.name),
  )
  for (const doc of clientDocs) {
    const name = doc.document.metadata.name
    if (stored.has(name) && !named.has(name))
      findings.push(at(doc, ['metadata', 'name'], `user ${name} already has this name`))
  }
  return findings
}

/** Bindings name known clients and resources, each triple is bound once, issuers exist. */
async function checkPolicyPaths(
  db: Kysely<DB>,
  documents: Located<AnyDocument>[],
  clients: Set<string>,
  at: (doc: Located<AnyDocument>, path: PropertyKey[], message: string) => Finding,
): Promise<Finding[]> {
  const findings: Finding[] = []
  const paths = documents.filter((d): d is Located<PolicyPathDocument> => d.document.kind === 'PolicyPath')
  if (paths.length === 0) return findings
  const uris = new Set([
    ...(await db.selectFrom('resources').select('uri').execute()).map((r) => r.uri),
    ...documents.flatMap((d) => (d.document.kind === 'Resource' ? [d.document.spec.uri] : [])),
  ])
  const issuers = new Set([
    SELF_ISSUER,
    ...(await db.selectFrom('issuers').select('name').execute()).map((r) => r.name),
    ...documents.flatMap((d) => (d.document.kind === 'Issuer' ? [d.document.metadata.name] : [])),
  ])
  // The bindings in force after this apply: stored ones of paths not in it, plus the documents' own.
  const applied = new Set(paths.map((p) => p.document.metadata.name))
  const owner = new Map<string, string>()
  for (const b of await listBindings(db)) {
    if (!applied.has(b.path)) owner.set(`${b.client} ${b.resource} ${b.grantType}`, b.path)
  }
  for (const doc of paths) {
    const { spec, metadata } = doc.document
    spec.bindings.forEach((binding, index) => {
      const where = ['spec', 'bindings', index]
      if (!clients.has(binding.client)) findings.push(at(doc, [...where, 'client'], `unknown client ${binding.client}`))
      if (!uris.has(binding.resource))
        findings.push(at(doc, [...where, 'resource'], `unknown resource ${binding.resource}`))
      const triple = `${binding.client} ${binding.resource} ${binding.grantType}`
      const other = owner.get(triple)
      if (other && other !== metadata.name) {
        findings.push(at(doc, where, `this (client, resource, grant type) is already bound by policy path ${other}`))
      }
      owner.set(triple, metadata.name)
    })
    spec.subjectTokens?.issuers?.forEach((name, index) => {
      if (!issuers.has(name))
        findings.push(
          at(doc, ['spec', 'subjectTokens', 'issuers', index], `unknown issuer ${name} (use self or an Issuer name)`),
        )
    })
    spec.delegation?.actors?.forEach((name, index) => {
      if (!clients.has(name)) findings.push(at(doc, ['spec', 'delegation', 'actors', index], `unknown client ${name}`))
    })
  }
  return findings
}
