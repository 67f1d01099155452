// Loads what the task rules need (tasks/access.ts): the task, whether it and every task above it are
// live, and — only when another client than its agent would work on it — the actors its paths list.
import type { Kysely } from 'kysely'
import type { Catalog } from '../catalog/catalog.ts'
import type { DB } from '../db/schema.ts'
import { toDate, toEpoch } from '../lib/clock.ts'
import { findTaskWithLiveness, type TaskRow } from '../tasks/store.ts'
import type { TaskFacts } from './decide.ts'
import { loadPathPolicy } from './load-policy.ts'

export type TaskRead = Promise<{ row: TaskRow; live: boolean } | undefined>

/** The task's row and liveness, read now: begun early by a caller that knows the task id early. */
export const readTask = (db: Kysely<DB>, taskId: string, now: number): TaskRead =>
  findTaskWithLiveness(db, taskId, toDate(now))

export async function loadTaskFacts(
  db: Kysely<DB>,
  catalog: Catalog,
  taskId: string,
  actor: string,
  now: number,
  /** The read of this task already begun (readTask), if any. */
  begun?: TaskRead,
): Promise<TaskFacts & { row?: TaskRow }> {
  return taskFactsOf(catalog, taskId, await (begun ?? readTask(db, taskId, now)), actor)
}

/** The task facts of a task read (or described, by a simulation): pure. */
export function taskFactsOf(
  catalog: Catalog,
  taskId: string,
  found: { row: TaskRow; live: boolean } | undefined,
  actor: string,
): TaskFacts & { row?: TaskRow } {
  const row = found?.row
  const live = found?.live === true
  const listedActors = row && live && row.client_id !== actor ? actorsOfTask(catalog, row.policy_paths) : []
  if (!row) return { id: taskId, live, listedActors }
  return { id: taskId, live, listedActors, row, task: { ...row, expiresAt: toEpoch(row.expires_at) } }
}

/** Who may work on a task besides its agent: the actors its policy paths list (sub-agents). */
export function actorsOfTask(catalog: Catalog, policyPaths: readonly string[]): string[] {
  return [...new Set(policyPaths.flatMap((path) => loadPathPolicy(catalog, path)?.actors ?? []))]
}
