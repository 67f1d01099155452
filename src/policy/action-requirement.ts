// What a policy path requires of one action, from every level that declares actions (root first): each
// such level must have a rule for it (default deny), and the strictest requirement of those rules wins.
// No level declaring actions leaves the action to scope alone (docs/runtime-authorization.md). Pure.
import { ACTION_CLASSES, type ActionClass, type ActionRule, covers, ruleFor } from './actions.ts'

export interface ActionLevel {
  path: string
  rules: readonly ActionRule[]
}

export interface ActionRequirement {
  class: ActionClass
  /** Every scope any matching rule requires. */
  scopes: string[]
  taskRequired: boolean
  maxDepth?: number
  /** Clients that may hold the token: in every matching rule's list. */
  actors?: string[]
  /** Each level's rate, each enforced on its own (rule: the matching rule's name, the counter's key). */
  rates: Array<{ max: number; per: number; path: string; rule: string }>
  approval: boolean
  /** Seconds a resource server may reuse an allow: only when every matching rule allows it, the least of them. */
  cache?: number
  /** The rule that matched at each level, root first (for the decision record). */
  matched: Array<{ path: string; rule: string }>
}

export type ActionResolution =
  | { kind: 'unruled' }
  | { kind: 'denied'; path: string }
  | { kind: 'ruled'; requirement: ActionRequirement }

const stricter = (a: ActionClass, b: ActionClass): ActionClass =>
  ACTION_CLASSES.indexOf(a) >= ACTION_CLASSES.indexOf(b) ? a : b

export function resolveAction(levels: readonly ActionLevel[], name: string): ActionResolution {
  if (levels.length === 0) return { kind: 'unruled' }
  const matched: Array<{ path: string; rule: ActionRule }> = []
  for (const level of levels) {
    const rule = ruleFor(level.rules, name)
    if (!rule) return { kind: 'denied', path: level.path }
    matched.push({ path: level.path, rule })
  }
  let requirement: ActionRequirement = {
    class: 'read',
    scopes: [],
    taskRequired: false,
    rates: [],
    approval: false,
    matched: matched.map(({ path, rule }) => ({ path, rule: rule.name })),
  }
  let cacheable = true
  for (const { path, rule } of matched) {
    const actors = requirement.actors
    requirement = {
      ...requirement,
      class: stricter(requirement.class, rule.class),
      scopes: [...new Set([...requirement.scopes, ...(rule.scopes ?? [])])],
      taskRequired: requirement.taskRequired || rule.task === 'required',
      approval: requirement.approval || rule.approval === 'delegator',
      rates: rule.rate ? [...requirement.rates, { ...rule.rate, path, rule: rule.name }] : requirement.rates,
    }
    const maxDepth = Math.min(
      requirement.maxDepth ?? Number.POSITIVE_INFINITY,
      rule.maxDepth ?? Number.POSITIVE_INFINITY,
    )
    if (Number.isFinite(maxDepth)) requirement.maxDepth = maxDepth
    if (rule.actors) requirement.actors = actors ? actors.filter((a) => rule.actors?.includes(a)) : [...rule.actors]
    if (rule.cache === undefined) cacheable = false
    else requirement.cache = Math.min(requirement.cache ?? Number.POSITIVE_INFINITY, rule.cache)
  }
  // A counted or approved use must reach the decision point each time, whatever another level allows.
  if (!cacheable || requirement.approval || requirement.rates.length > 0) delete requirement.cache
  return { kind: 'ruled', requirement }
}

/** Whether a task may declare `entry` (a name or a pattern): every level declaring actions has a rule covering it. */
export const allowsIntent = (levels: readonly ActionLevel[], entry: string): boolean =>
  levels.every((level) => level.rules.some((rule) => covers(rule.name, entry)))
