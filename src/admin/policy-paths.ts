// Policy paths on the admin API, read-only (issue 13): the paths in force, each one's current document and
// every version (versions are immutable: policy/store.ts) with its source and reason, and its effective policy
// with where each value came from (policy/annotate.ts). A retired path is read only through its history.
import { type Kysely, sql } from 'kysely'
import type { DB } from '../db/schema.ts'
import { documentYaml } from '../documents/yaml.ts'
import { type AnnotatedPolicy, annotatedPolicy } from '../policy/annotate.ts'
import { type Change, diffDocuments, lineDiff } from '../policy/diff.ts'
import { ancestorsOf, PolicyPathDocument } from '../policy/schema.ts'
import { currentDocument, liveDocument, sourceOf } from '../policy/store.ts'

export interface PolicyPathSummary {
  name: string
  version: number
  description: string | null
  owner: string | null
  bindings: PolicyPathDocument['spec']['bindings']
  updated_at: Date
  /** Only in the list with ?retired=true: whether the path is retired (its last version a retirement). */
  retired?: boolean
}

interface VersionRow {
  path: string
  version: number
  document: unknown
  content_hash: string
  created_at: Date
  retired: boolean
}

/** The latest version of each path (or of the named ones), by name; a retired path only when asked for. */
async function latest(db: Kysely<DB>, names?: readonly string[], retired = false): Promise<VersionRow[]> {
  const { rows } = await sql<VersionRow>`
    select * from (
      select distinct on (path) path, version, document, content_hash, created_at, retired
      from policy_path_versions
      ${names ? sql`where path = any(${names}::text[])` : sql``}
      order by path, version desc
    ) latest
    ${retired ? sql`` : sql`where not retired`}
    order by path`.execute(db)
  return rows
}

const documentOf = (row: VersionRow): PolicyPathDocument => PolicyPathDocument.parse(row.document)

/** The paths in force; with `retired`, the retired ones too (each marked). */
export async function listPolicyPaths(
  db: Kysely<DB>,
  options: { retired?: boolean } = {},
): Promise<PolicyPathSummary[]> {
  return (await latest(db, undefined, options.retired)).map((row) => {
    const doc = documentOf(row)
    return {
      name: row.path,
      version: row.version,
      description: doc.metadata.description ?? null,
      owner: doc.metadata.owner ?? null,
      bindings: doc.spec.bindings,
      updated_at: row.created_at,
      ...(options.retired ? { retired: row.retired } : {}),
    }
  })
}

/** The current document of a path in force and its version (the ETag); undefined when it has none or is retired. */
export const currentPolicyPath = liveDocument

/** Every version of a path, newest first, retirements included: the whole history, with who made each and why. */
export async function policyPathVersions(db: Kysely<DB>, name: string) {
  const rows = await db
    .selectFrom('policy_path_versions')
    .select(['version', 'content_hash', 'created_at', 'retired', 'source_kind', 'source', 'source_digest', 'reason'])
    .where('path', '=', name)
    .orderBy('version', 'desc')
    .execute()
  return rows.map(({ source_kind, source, source_digest, ...row }) => ({
    ...row,
    source: sourceOf({ source_kind, source, source_digest }),
  }))
}

export async function policyPathVersion(db: Kysely<DB>, name: string, version: number) {
  const row = await db
    .selectFrom('policy_path_versions')
    .select([
      'version',
      'document',
      'content_hash',
      'created_at',
      'retired',
      'source_kind',
      'source',
      'source_digest',
      'reason',
    ])
    .where('path', '=', name)
    .where('version', '=', version)
    .executeTakeFirst()
  if (!row) return undefined
  const { source_kind, source, source_digest, ...rest } = row
  return {
    ...rest,
    document: PolicyPathDocument.parse(row.document),
    source: sourceOf({ source_kind, source, source_digest }),
  }
}

/** The path's effective policy (its ancestors' latest versions folded in), annotated; undefined if it has none. */
export async function effectivePolicyPath(db: Kysely<DB>, name: string): Promise<AnnotatedPolicy | undefined> {
  const rows = await latest(db, ancestorsOf(name))
  if (!rows.some((row) => row.path === name)) return undefined
  const byPath = new Map(rows.map((row) => [row.path, row]))
  const levels = ancestorsOf(name).flatMap((path) => {
    const row = byPath.get(path)
    return row ? [{ path, version: row.version, spec: documentOf(row).spec }] : []
  })
  return annotatedPolicy(levels)
}

export interface PolicyPathDiff {
  name: string
  from: number
  to: number
  /** Whether any change broadens what the path lets through. */
  broadening: boolean
  changes: Change[]
  /** The YAML of both versions, line by line ("  " kept, "- " removed, "+ " added). */
  yaml: string
}

/**
 * Two versions of a path compared (`to` defaults to the current one, `from` to the one before it; `from` 0
 * is "no path yet"); undefined when either is not a version of it.
 */
export async function diffPolicyPath(
  db: Kysely<DB>,
  name: string,
  range: { from?: number | undefined; to?: number | undefined },
): Promise<PolicyPathDiff | undefined> {
  const to = range.to ?? (await currentDocument(db, name))?.version
  if (to === undefined) return undefined
  const from = range.from ?? to - 1
  const [after, before] = await Promise.all([
    policyPathVersion(db, name, to),
    from === 0 ? Promise.resolve(undefined) : policyPathVersion(db, name, from),
  ])
  if (!after || (from !== 0 && !before)) return undefined
  const changes = diffDocuments(before?.document, after.document)
  return {
    name,
    from,
    to,
    broadening: changes.some((change) => change.broadening),
    changes,
    yaml: lineDiff(before ? documentYaml(before.document) : '', documentYaml(after.document)),
  }
}
