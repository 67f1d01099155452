// Validation of documents without writing anything (issue 13: `POST /admin/v1/policy-paths:validate` and
// `mandate policy validate`): what `apply` would refuse (errors), plus what a policy author should see
// before saving — a scope no bound resource has, and a level wider than its ancestors, whose ancestors win
// (warnings; `apply` still accepts both).
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import type { OutboundRules } from '../outbound/rules.ts'
import { effectivePolicy } from '../policy/effective.ts'
import { ancestorsOf, type PolicyPathDocument, PolicyPathDocument as PolicyPathSchema } from '../policy/schema.ts'
import { formatDuration } from '../lib/duration.ts'
import { type AnyDocument, crossCheck, documentKinds, schemaForKind } from './apply.ts'
import { type Finding, type LoadResult, type Located, parseDocuments } from './load.ts'

export type Severity = 'error' | 'security_warning' | 'warning'

export interface ValidationFinding {
  severity: Severity
  code: string
  message: string
  /** RFC 6901 JSON pointer into the document. */
  path: string
  file: string
  line: number
  column: number
}

const pointer = (dotted: string | undefined) => (dotted ? `/${dotted.split('.').join('/')}` : '')

const graded = (finding: Finding, severity: Severity, code: string): ValidationFinding => ({
  severity,
  code,
  message: finding.message,
  path: pointer(finding.path),
  file: finding.file,
  line: finding.line,
  column: finding.column,
})

/** Documents of one text (YAML or JSON), validated. */
export function validateText(db: Kysely<DB>, text: string, file: string, outbound: OutboundRules) {
  return validateLoaded(
    db,
    parseDocuments<AnyDocument>(text, file, schemaForKind, Object.keys(documentKinds)),
    outbound,
  )
}

export async function validateLoaded(
  db: Kysely<DB>,
  loaded: LoadResult<AnyDocument>,
  outbound: OutboundRules,
): Promise<ValidationFinding[]> {
  if (loaded.findings.length > 0) return loaded.findings.map((f) => graded(f, 'error', 'schema'))
  const references = (await crossCheck(db, loaded.documents, outbound)).map((f) => graded(f, 'error', 'reference'))
  return [...references, ...(await policyWarnings(db, loaded.documents))]
}

/** The warnings of documents (never errors): scopes no bound resource has, levels wider than their ancestors. */
export async function policyWarnings(db: Kysely<DB>, documents: Located<AnyDocument>[]): Promise<ValidationFinding[]> {
  const paths = documents.filter((d): d is Located<PolicyPathDocument> => d.document.kind === 'PolicyPath')
  if (paths.length === 0) return []
  const warn = (doc: Located<PolicyPathDocument>, at: PropertyKey[], code: string, message: string) =>
    graded({ file: doc.file, ...doc.locate(at), message, path: at.map(String).join('.') }, 'warning', code)
  const catalogues = new Map(
    (await db.selectFrom('resources').select(['uri', 'scopes']).execute()).map((r) => [r.uri, r.scopes]),
  )
  for (const doc of documents)
    if (doc.document.kind === 'Resource')
      catalogues.set(
        doc.document.spec.uri,
        doc.document.spec.scopes.map((scope) => (typeof scope === 'string' ? scope : scope.name)),
      )
  const everyScope = new Set([...catalogues.values()].flat())
  const findings: ValidationFinding[] = []
  for (const doc of paths) {
    const { spec, metadata } = doc.document
    // A scope no resource of the path's bindings (or, unbound, no resource at all) has can never be granted.
    const bound = [...new Set(spec.bindings.map((b) => b.resource))]
    const known = bound.length > 0 ? new Set(bound.flatMap((uri) => catalogues.get(uri) ?? [])) : everyScope
    spec.scopes?.forEach((scope, index) => {
      if (!known.has(scope))
        findings.push(
          warn(
            doc,
            ['spec', 'scopes', index],
            'scope_not_in_catalogue',
            bound.length > 0
              ? `scope ${scope} is in no bound resource's scopes: it is never granted`
              : `scope ${scope} is in no resource's scopes`,
          ),
        )
    })
    findings.push(...(await widerThanAncestors(db, doc, metadata.name, documents, warn)))
  }
  return findings
}

/** A child wider than its ancestors changes nothing (levels intersect): say so, or the author expects it to. */
async function widerThanAncestors(
  db: Kysely<DB>,
  doc: Located<PolicyPathDocument>,
  name: string,
  documents: Located<AnyDocument>[],
  warn: (doc: Located<PolicyPathDocument>, at: PropertyKey[], code: string, message: string) => ValidationFinding,
): Promise<ValidationFinding[]> {
  const ancestors = ancestorsOf(name).slice(0, -1)
  if (ancestors.length === 0) return []
  const inBatch = new Map(
    documents.flatMap((d) => (d.document.kind === 'PolicyPath' ? [[d.document.metadata.name, d.document.spec]] : [])),
  )
  const stored = await db
    .selectFrom('policy_path_versions')
    .select(['path', 'version', 'document', 'retired'])
    .where('path', 'in', ancestors)
    .orderBy('version', 'desc')
    .execute()
  const levels = ancestors.flatMap((path) => {
    // The latest version of each ancestor, unless it is a retirement (no level then).
    const latest = stored.find((row) => row.path === path)
    const spec = inBatch.get(path) ?? (latest?.retired ? undefined : latest?.document)
    return spec === undefined
      ? []
      : [
          {
            path,
            version: 0,
            spec: inBatch.has(path) ? (spec as PolicyPathDocument['spec']) : PolicyPathSchema.parse(spec).spec,
          },
        ]
  })
  if (levels.length === 0) return []
  const above = effectivePolicy(levels)
  const by = (field: (spec: PolicyPathDocument['spec']) => unknown) =>
    levels
      .filter((level) => field(level.spec) !== undefined)
      .map((level) => level.path)
      .join(', ')
  const { spec } = doc.document
  const findings: ValidationFinding[] = []
  const wider = (at: PropertyKey[], what: string, from: string) =>
    findings.push(warn(doc, at, 'wider_than_ancestor', `${what} is wider than ${from}: the ancestor wins`))
  spec.scopes?.forEach((scope, index) => {
    if (above.scopes && !above.scopes.includes(scope))
      wider(
        ['spec', 'scopes', index],
        `scope ${scope}`,
        by((s) => s.scopes),
      )
  })
  if (spec.tokenLifetime !== undefined && above.tokenLifetime !== undefined && spec.tokenLifetime > above.tokenLifetime)
    wider(
      ['spec', 'tokenLifetime'],
      `tokenLifetime ${formatDuration(spec.tokenLifetime)}`,
      by((s) => s.tokenLifetime),
    )
  const depth = spec.delegation?.maxDepth
  if (depth !== undefined && levels.some((l) => l.spec.delegation?.maxDepth !== undefined) && depth > above.maxDepth)
    wider(
      ['spec', 'delegation', 'maxDepth'],
      `maxDepth ${depth}`,
      by((s) => s.delegation?.maxDepth),
    )
  spec.delegation?.actors?.forEach((actor, index) => {
    if (above.actors && !above.actors.includes(actor))
      wider(
        ['spec', 'delegation', 'actors', index],
        `actor ${actor}`,
        by((s) => s.delegation?.actors),
      )
  })
  spec.subjectTokens?.issuers?.forEach((issuer, index) => {
    if (levels.some((l) => l.spec.subjectTokens?.issuers) && !above.issuers.includes(issuer))
      wider(
        ['spec', 'subjectTokens', 'issuers', index],
        `subject issuer ${issuer}`,
        by((s) => s.subjectTokens?.issuers),
      )
  })
  return findings
}
