// tasks rows. A task's state is decided when read: completed (itself or through an ancestor, whose
// completion also stamps every subtask), expired by time, or active. Completing is one UPDATE.
import { type Kysely, type RawBuilder, type Selectable, sql } from 'kysely'
import { groupOn } from '../db/group.ts'
import type { DB, TasksTable } from '../db/schema.ts'
import { isUuid } from '../lib/uuid.ts'
import { activeTokenSql } from '../lineage/tokens.ts'
import type { TaskOutcome } from './outcome.ts'

export type TaskRow = Selectable<TasksTable>

export async function findTask(db: Kysely<DB>, taskId: string): Promise<TaskRow | undefined> {
  if (!isUuid(taskId)) return undefined // never sent to Postgres: not a uuid, so no such task
  return db.selectFrom('tasks').selectAll().where('task_id', '=', taskId).executeTakeFirst()
}

export type TaskStatus = 'active' | 'completed' | 'expired'

export const statusOf = (task: Pick<TaskRow, 'completed_at' | 'expires_at'>, now: Date): TaskStatus =>
  task.completed_at ? 'completed' : task.expires_at <= now ? 'expired' : 'active'

/**
 * The task, and whether it and every task above it are neither completed nor expired, in one query.
 * undefined for an unknown task. Concurrent reads share one statement (db/group.ts), each at its own clock.
 */
export async function findTaskWithLiveness(
  db: Kysely<DB>,
  taskId: string,
  now: Date,
): Promise<{ row: TaskRow; live: boolean } | undefined> {
  if (!isUuid(taskId)) return undefined // never sent to Postgres: not a uuid, so no such task
  return groupOn(db, 'tasks.find_live', findTasksWithLiveness)({ taskId, now })
}

async function findTasksWithLiveness(
  db: Kysely<DB>,
  reads: readonly { taskId: string; now: Date }[],
): Promise<({ row: TaskRow; live: boolean } | undefined)[]> {
  const { rows } = await sql<TaskRow & { live: boolean; read: number }>`
    select t.*, q.read::int as read, not exists (select 1 from tasks k where k.task_id = any(t.task_path)
      and (k.completed_at is not null or k.expires_at <= q.now)) as live
    from unnest(${reads.map((r) => r.taskId)}::uuid[], ${reads.map((r) => r.now)}::timestamptz[])
      with ordinality as q(task_id, now, read)
    join tasks t on t.task_id = q.task_id`.execute(db)
  const found: ({ row: TaskRow; live: boolean } | undefined)[] = reads.map(() => undefined)
  for (const { live, read, ...row } of rows) found[read - 1] = { row, live }
  return found
}

/**
 * Rows whose task_path holds the task: the task and its whole subtree (GIN index on task_path). The one
 * task-tree predicate, for tasks and for issued_tokens (`table` names the row when a query has several).
 */
export const inTaskTree = (taskId: string, table?: string): RawBuilder<boolean> =>
  sql<boolean>`${sql.ref(table ? `${table}.task_path` : 'task_path')} @> array[${taskId}]::uuid[]`

/**
 * The one order every lock on tasks rows is taken in, ancestors first: exchanges and subtask creation
 * (FOR SHARE on a task path) and completions (FOR UPDATE on a subtree) then wait for each other
 * instead of deadlocking, whoever comes first.
 */
const LOCK_ORDER = sql`cardinality(task_path), task_id`

/**
 * Locks the tasks FOR SHARE, in LOCK_ORDER, until the transaction ends, and returns the id of one
 * that is completed or expired, if any. A completion cannot commit while the lock is held.
 */
export async function lockLiveTasks(
  db: Kysely<DB>,
  taskIds: readonly string[],
  now: Date,
): Promise<string | undefined> {
  if (taskIds.length === 0) return undefined
  const rows = await db
    .selectFrom('tasks')
    .select(['task_id', 'completed_at', 'expires_at'])
    .where((eb) => eb('task_id', '=', eb.fn.any(eb.val(taskIds))))
    .orderBy(LOCK_ORDER)
    .forShare()
    .execute()
  return rows.find((task) => statusOf(task, now) !== 'active')?.task_id
}

export async function insertTask(db: Kysely<DB>, task: TaskRow): Promise<void> {
  await db.insertInto('tasks').values(task).execute()
}

export function listSubtasks(db: Kysely<DB>, taskId: string): Promise<TaskRow[]> {
  return db
    .selectFrom('tasks')
    .selectAll()
    .where(inTaskTree(taskId))
    .where('task_id', '<>', taskId)
    .orderBy('created_at')
    .execute()
}

/** Tokens that depend on the task (its own and its subtasks'): how many were issued, how many are active. */
export async function tokenCounts(
  db: Kysely<DB>,
  taskId: string,
  now: Date,
): Promise<{ issued: number; active: number }> {
  const result = await sql<{ issued: string; active: string }>`
    select count(*) as issued, count(*) filter (where ${activeTokenSql(now)}) as active
    from issued_tokens t where ${inTaskTree(taskId, 't')}`.execute(db)
  const row = result.rows[0]
  return { issued: Number(row?.issued ?? 0), active: Number(row?.active ?? 0) }
}

/**
 * Completes the task and every subtask still open (one UPDATE), returning how many of their tokens
 * were active just before. Serialised per task; completing again changes nothing (idempotent).
 */
export async function completeTask(
  db: Kysely<DB>,
  taskId: string,
  outcome: TaskOutcome,
  now: Date,
): Promise<{ revoked: number; completedNow: boolean; revokedJtis: string[] }> {
  // The whole subtree, in LOCK_ORDER: two completions of nested tasks, or a completion and an exchange,
  // then wait for each other instead of deadlocking.
  await db.selectFrom('tasks').select('task_id').where(inTaskTree(taskId)).orderBy(LOCK_ORDER).forUpdate().execute()
  const active = await sql<{ jti: string }>`
    select t.jti from issued_tokens t where ${inTaskTree(taskId, 't')} and ${activeTokenSql(now)}`.execute(db)
  const updated = await db
    .updateTable('tasks')
    .set({ completed_at: now, outcome })
    .where(inTaskTree(taskId))
    .where('completed_at', 'is', null)
    .returning('task_id')
    .execute()
  const completedNow = updated.some((row) => row.task_id === taskId)
  return {
    revoked: completedNow ? active.rows.length : 0,
    completedNow,
    revokedJtis: completedNow ? active.rows.map((r) => r.jti) : [],
  }
}
