// Who may work on a task besides its agent: the actors its policy paths list (sub-agents).
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import { effectivePolicy } from '../policy/effective.ts'
import { loadLevels } from '../policy/store.ts'
import type { TaskRow } from './store.ts'

export async function actorsOfTask(db: Kysely<DB>, task: TaskRow): Promise<string[]> {
  const actors = new Set<string>()
  for (const path of task.policy_paths) {
    const levels = await loadLevels(db, path)
    if (levels.length > 0) for (const actor of effectivePolicy(levels).actors ?? []) actors.add(actor)
  }
  return [...actors]
}
