// Retiring a policy path (issue 13): one decision for the admin API (DELETE) and `mandate apply --prune`.
// Under the path's lock: the path must be in force, the caller's precondition must hold, and no path in
// force may be below it (a child's effective policy would lose this level: a broadening), and unbinding a
// client_credentials or authorization_code triple (which then has no path ceiling) must be confirmed. Then a retirement
// version is appended (the last document kept) and the path's bindings are deleted, in the caller's
// transaction.
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import { unbindingBroadens, unbindingText } from './diff.ts'
import type { Binding } from './schema.ts'
import { currentDocument, liveDescendants, lockPathAndAncestors, saveRetirement, type VersionSource } from './store.ts'

export interface RetireRefusal {
  status: number
  title: string
  detail: string
  findings: Array<{ severity: 'error' | 'security_warning'; code: string; message: string; path: string }>
}

/** What retiring a path with these bindings broadens: each unbound triple whose grant then has no ceiling. */
export const retirementBroadens = (bindings: readonly Binding[]): string[] =>
  bindings.filter((b) => unbindingBroadens(b.grantType)).map(unbindingText)

export type RetireOutcome =
  | { retired: true; from: number; version: number; unbound: Binding[] }
  | { retired: false; refused: RetireRefusal }

export async function retirePolicyPath(
  db: Kysely<DB>,
  name: string,
  options: {
    now: Date
    source: VersionSource
    reason: string
    /** A refusal ([status, title, detail]) of the version the caller read, or undefined when it holds. */
    ifMatch?: (current: number) => readonly [number, string, string] | undefined
    /** Paths retired in the same transaction before this one (apply --prune retires children first). */
    alsoRetired?: ReadonlySet<string>
    /** The admin confirmed what the retirement broadens (retirementBroadens). */
    confirmBroadening?: boolean
  },
): Promise<RetireOutcome> {
  const refuse = (status: number, title: string, detail: string, findings: RetireRefusal['findings'] = []) => ({
    retired: false as const,
    refused: { status, title, detail, findings },
  })
  await lockPathAndAncestors(db, name)
  const current = await currentDocument(db, name)
  if (!current || current.retired) return refuse(404, 'Not found', `policy path ${name} is not in force`)
  const precondition = options.ifMatch?.(current.version)
  if (precondition) return refuse(...precondition)
  const below = (await liveDescendants(db, name)).filter((path) => !options.alsoRetired?.has(path))
  if (below.length > 0)
    return refuse(
      409,
      'Paths below it',
      `retire the paths below ${name} first: without this level their effective policy would be wider`,
      below.map((path) => ({
        severity: 'error',
        code: 'has_descendants',
        message: `policy path ${path} is below ${name} and in force`,
        path: '',
      })),
    )
  const broadens = retirementBroadens(current.document.spec.bindings)
  if (broadens.length > 0 && options.confirmBroadening !== true)
    return refuse(
      409,
      'Broadening not confirmed',
      'retiring this path broadens what its bindings let through: confirm with confirmBroadening: true',
      broadens.map((message) => ({
        severity: 'security_warning',
        code: 'broadening',
        message,
        path: '/spec/bindings',
      })),
    )
  const version = await saveRetirement(db, name, current, current.content_hash, options.now, {
    source: options.source,
    reason: options.reason,
  })
  return { retired: true, from: current.version, version, unbound: current.document.spec.bindings }
}
