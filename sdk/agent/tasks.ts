// The tasks API (docs/tasks.md): POST /tasks and POST /tasks/{id}/complete. The client authenticates as at
// /token (oauth4webapi's ClientAuth fills the request); bodies are JSON, so lists stay arrays.
import type { Connection } from './connect.ts'
import { succeeded } from './error.ts'
import { ACCESS_TOKEN, list } from './exchange.ts'

export interface StartTaskRequest {
  /** The delegating person's token: its `sub` becomes the task's delegator. */
  subjectToken: string
  /** Default urn:ietf:params:oauth:token-type:access_token. */
  subjectTokenType?: string
  /** What the work is, in words (1 to 1000 characters): shown in audit and to the person. */
  purpose: string
  /** RFC 8707 resource indicators the task may touch; each bound for this agent to a policy path. */
  resources: readonly string[]
  /** Without it, everything the policy paths and the person's token allow. */
  scope?: string | readonly string[]
  /** The declared intent: action names such as "tickets.read". */
  actions?: readonly string[]
  /** Seconds; capped (never refused) by the policy paths, the person's token and the parent task. */
  expiresIn?: number
  /** A live task this one is part of (a sub-agent's subtask). */
  parentTaskId?: string
}

export interface TaskInfo {
  id: string
  delegator: string
  /** The client running the task. */
  agent: string
  purpose: string
  resources: string[]
  scope: string
  createdAt: Date
  expiresAt: Date
  parentTaskId: string | null
}

export type TaskOutcome = 'succeeded' | 'failed' | 'cancelled'

export interface CompletedTask {
  id: string
  status: 'completed'
  /** The first completion's outcome: completing again changes nothing. */
  outcome: TaskOutcome
  /** How many tokens of the task and its subtasks were active and now are not. */
  revokedTokens: number
}

export async function createTask(connection: Connection, request: StartTaskRequest): Promise<TaskInfo> {
  const task = await post(
    connection,
    connection.tasksUrl,
    {
      subject_token: request.subjectToken,
      subject_token_type: request.subjectTokenType ?? ACCESS_TOKEN,
      purpose: request.purpose,
      resource: [...request.resources],
      scope: request.scope === undefined ? undefined : list(request.scope).join(' '),
      actions: request.actions === undefined ? undefined : [...request.actions],
      expires_in: request.expiresIn,
      parent_task_id: request.parentTaskId,
    },
    { prove: true },
  )
  return {
    id: String(task.task_id),
    delegator: String(task.delegator),
    agent: String(task.agent),
    purpose: String(task.purpose),
    resources: (task.resources as string[]) ?? [],
    scope: String(task.scope ?? ''),
    createdAt: new Date(String(task.created_at)),
    expiresAt: new Date(String(task.expires_at)),
    parentTaskId: typeof task.parent_task_id === 'string' ? task.parent_task_id : null,
  }
}

export async function completeTask(connection: Connection, id: string, outcome: TaskOutcome): Promise<CompletedTask> {
  const url = new URL(`${connection.tasksUrl.href}/${encodeURIComponent(id)}/complete`)
  const task = await post(connection, url, { outcome }, { prove: false })
  return {
    id: String(task.task_id),
    status: 'completed',
    outcome: task.outcome as TaskOutcome,
    revokedTokens: Number(task.revoked_tokens),
  }
}

/** One authenticated JSON POST, with a DPoP proof of the agent's key when `prove` (POST /tasks reads one). */
async function post(connection: Connection, url: URL, members: Record<string, unknown>, options: { prove: boolean }) {
  const dpop = options.prove ? connection.tasksDpop : undefined
  const send = async () => {
    const form = new URLSearchParams()
    const headers = new Headers({ accept: 'application/json', 'content-type': 'application/json' })
    // Basic credentials go in a header; client_id and client_assertion (private_key_jwt) in the body.
    await connection.auth(connection.as, connection.client, form, headers)
    if (dpop) headers.set('dpop', await dpop.proof('POST', url))
    const body = JSON.stringify({ ...members, ...Object.fromEntries(form) })
    const response = await fetch(url, { method: 'POST', headers, body, redirect: 'manual' })
    dpop?.remember(response)
    return response
  }
  const response = await succeeded(send, dpop !== undefined)
  return (await response.json()) as Record<string, unknown>
}
