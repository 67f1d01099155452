// Completing a task, with everything that must commit with it: the one UPDATE over the task tree,
// the revocation events to push (outbox) and the audit event. Shared by the tasks API and the CLI.
import type { Kysely } from 'kysely'
import { writeAudit } from '../audit/write.ts'
import type { DB } from '../db/schema.ts'
import { toDate } from '../lib/clock.ts'
import type { TaskOutcome } from './outcome.ts'
import { completeTask, type TaskRow } from './store.ts'

export interface CompletionDeps {
  db: Kysely<DB>
  /** Writes the revocation events of the completion into the outbox, in its transaction. */
  enqueueCompleted(trx: Kysely<DB>, task: TaskRow, outcome: TaskOutcome, revokedJtis: string[]): Promise<number>
  log?: { info(fields: object, msg: string): void }
}

export async function completeWithEffects(
  deps: CompletionDeps,
  task: TaskRow,
  request: { outcome: TaskOutcome; now: number; actor: string; requestId: string | null },
): Promise<{ revoked: number; completedNow: boolean }> {
  return deps.db.transaction().execute(async (trx) => {
    const completed = await completeTask(trx, task.task_id, request.outcome, toDate(request.now))
    if (completed.completedNow) {
      await deps.enqueueCompleted(trx, task, request.outcome, completed.revokedJtis)
      await writeAudit(
        trx,
        {
          type: 'task.completed',
          at: request.now,
          actor: request.actor,
          requestId: request.requestId,
          subject: task.delegator,
          taskId: task.task_id,
          data: { outcome: request.outcome, revoked_tokens: completed.revoked },
        },
        deps.log,
      )
    }
    return { revoked: completed.revoked, completedNow: completed.completedNow }
  })
}
