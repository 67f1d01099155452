// A task's declared intent: the actions the agent says it will take for this task. Each must be allowed by
// the policy of one of the task's resources and, for a subtask, covered by its parent's intent. An action
// outside the intent is denied at evaluation (outside_task_intent), whatever scope the token holds. Pure.
import { type ActionLevel, allowsIntent } from '../policy/action-requirement.ts'
import { ActionPattern, covers } from '../policy/actions.ts'

/** At most this many entries: intent is a short list a person can read, not a catalogue. */
export const MAX_DECLARED_ACTIONS = 100

export type IntentCheck = { ok: true; actions: string[] | null } | { ok: false; detail: string }

/**
 * declared: the request's list (undefined when the request declared none); policies: the action levels of
 * each of the task's resources' paths; parent: the parent task's intent (null: it declared none).
 */
export function checkIntent(
  declared: readonly string[] | undefined,
  policies: ReadonlyArray<readonly ActionLevel[]>,
  parent: readonly string[] | null,
): IntentCheck {
  // A subtask that declares nothing inherits its parent's intent: it cannot widen it by silence.
  if (declared === undefined) return { ok: true, actions: parent === null ? null : [...parent] }
  const actions = [...new Set(declared)]
  if (actions.length === 0 || actions.length > MAX_DECLARED_ACTIONS)
    return { ok: false, detail: `actions must list 1 to ${MAX_DECLARED_ACTIONS} actions` }
  for (const action of actions) {
    if (!ActionPattern.safeParse(action).success)
      return { ok: false, detail: `actions: ${action} is not an action name or pattern` }
    if (!policies.some((levels) => allowsIntent(levels, action)))
      return { ok: false, detail: `actions: ${action} is not allowed for this task's resources` }
    if (parent !== null && !parent.some((entry) => covers(entry, action)))
      return { ok: false, detail: `actions: ${action} is outside the parent task's actions` }
  }
  return { ok: true, actions }
}

/** Whether the intent lets the task's tokens take `action` (null: none declared, the policy alone decides). */
export const withinIntent = (intent: readonly string[] | null, action: string): boolean =>
  intent === null || intent.some((entry) => covers(entry, action))
