// A task described rather than stored: the row the task rules (tasks/access.ts) would read, with defaults that
// constrain nothing the request does not name — the acting client's task, for the subject, over the requested
// resources and their scopes, under the bound path, live for an hour.
import type { SubjectFacts } from '../delegation/decide.ts'
import { toDate } from '../lib/clock.ts'
import type { EffectivePolicy } from '../policy/effective.ts'
import type { ResourceRow } from '../resources/store.ts'
import type { TaskRow } from '../tasks/store.ts'
import type { SimulationRequest, TaskDescription } from './request.ts'
import { actingParty } from './tokens.ts'

export function describedTask(
  task: TaskDescription,
  request: SimulationRequest,
  subject: SubjectFacts,
  policy: EffectivePolicy,
  targets: readonly ResourceRow[],
  now: number,
): TaskRow {
  return {
    task_id: task.id,
    client_id: task.client_id ?? actingParty(request, request.client_id),
    delegator: task.delegator ?? subject.sub,
    delegator_issuer: task.delegator_issuer ?? subject.origin ?? subject.issuer,
    purpose: 'simulated',
    resources: task.resources ?? targets.map((target) => target.uri),
    scope: task.scope ?? [...new Set(targets.flatMap((target) => target.scopes))],
    policy_paths: task.policy_paths ?? [policy.path],
    parent_task_id: null,
    task_path: [task.id],
    created_at: toDate(now),
    expires_at: toDate(now + task.expires_in),
    completed_at: null,
    outcome: null,
    request_id: null,
    actions: task.actions,
  }
}
