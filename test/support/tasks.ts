// The one way tests get a task: started through the real tasks API (POST /tasks), as an agent would.
import { expect } from 'vitest'
import { personToken } from './idp.ts'
import { type Overrides, taskRequest } from './requests.ts'

/** A task as POST /tasks answers it. */
export interface StartedTask {
  task_id: string
  expires_at: string
  [field: string]: unknown
}

/**
 * Starts a task (agent-one's, on tickets, unless the overrides say otherwise) for `alice`: a subject
 * token whose sub is alice, by default a new token of the test IdP's. Fails the test unless 201.
 */
export async function startTask(
  base: string,
  { alice: given, ...overrides }: Overrides & { alice?: string } = {},
): Promise<{ task: StartedTask; alice: string }> {
  const alice = given ?? (await personToken())
  const send = await taskRequest(base, { ...overrides, params: { subject_token: alice, ...overrides.params } })
  const response = await send()
  const task = (await response.json()) as StartedTask
  expect(response.status, JSON.stringify(task)).toBe(201)
  return { task, alice }
}
