// Actions a policy path allows at run time (AuthZEN evaluations): each rule names an action or a prefix
// pattern, its class and its requirements. Levels combine by intersection, as scopes do: every level that
// declares actions must allow the action, and the strictest requirement of the matching rules wins. Pure.
import * as z from 'zod'
import { ScopeToken } from '../documents/envelope.ts'
import { Duration } from '../lib/duration.ts'

const SEGMENT = '[a-z0-9_][a-z0-9_:-]{0,62}'
/** `tickets.delete`: dot-separated segments of lowercase letters, digits, `_`, `:` and `-`. */
export const ActionName = z
  .string()
  .max(200)
  .regex(
    new RegExp(`^${SEGMENT}(\\.${SEGMENT}){0,7}$`),
    'an action name is up to 8 "."-separated segments of a-z 0-9 _ : -',
  )
/** An action name, `prefix.*` (every action below prefix) or `*` (every action). */
export const ActionPattern = z.union([
  z.literal('*'),
  ActionName,
  z
    .string()
    .max(202)
    .regex(
      new RegExp(`^${SEGMENT}(\\.${SEGMENT}){0,7}\\.\\*$`),
      'a pattern is an action name followed by ".*", or "*"',
    ),
])

export const ACTION_CLASSES = ['read', 'write', 'destructive'] as const
export type ActionClass = (typeof ACTION_CLASSES)[number]

export const ActionRule = z
  .strictObject({
    name: ActionPattern,
    class: z.enum(ACTION_CLASSES),
    /** Scopes the token must hold for this action (all of them). */
    scopes: z.array(ScopeToken).min(1).optional(),
    task: z.literal('required').optional(),
    /** The most actors the token's act chain may hold (RFC 8693 §4.1 nesting); 0: the holder acts for itself only. */
    maxDepth: z.number().int().min(0).max(10).optional(),
    /** The clients that may take this action: the token's current actor (its outermost `act`, else its holder). */
    actors: z.array(z.string().min(1)).min(1).optional(),
    /**
     * GCRA (evaluation/rates.ts): `max` at once, then one per `per`/`max`, so up to 2·max−1 in a span of `per`;
     * counted per task (per holder and subject without one).
     */
    rate: z.strictObject({ max: z.number().int().min(1).max(1_000_000), per: Duration }).optional(),
    /** The person who delegated must approve each use. */
    approval: z.literal('delegator').optional(),
    /** How long a resource server may reuse an allow of this action; never with a rate or an approval. */
    cache: Duration.optional(),
  })
  .refine((rule) => rule.cache === undefined || (rule.rate === undefined && rule.approval === undefined), {
    message: 'cache cannot be set with rate or approval: each use must reach the decision point',
    path: ['cache'],
  })
export type ActionRule = z.output<typeof ActionRule>

export const ActionRules = z.array(ActionRule).superRefine((rules, ctx) => {
  const seen = new Set<string>()
  rules.forEach((rule, index) => {
    if (seen.has(rule.name))
      ctx.addIssue({ code: 'custom', message: `duplicate action ${rule.name}`, path: [index, 'name'] })
    seen.add(rule.name)
  })
})

/** Whether `pattern` covers `name` (a name, or a pattern when checking a task's declared intent). */
export function covers(pattern: string, name: string): boolean {
  if (pattern === '*') return true
  if (!pattern.endsWith('.*')) return pattern === name
  const prefix = pattern.slice(0, -1) // keeps the dot: `tickets.` covers `tickets.read` and `tickets.x.*`
  return name.startsWith(prefix) && name.length > prefix.length
}

/** The most specific rule of one level for `name`: the exact name, else the longest covering pattern. */
export function ruleFor(rules: readonly ActionRule[], name: string): ActionRule | undefined {
  let best: ActionRule | undefined
  for (const rule of rules) {
    if (!covers(rule.name, name)) continue
    if (rule.name === name) return rule
    if (!best || rule.name.length > best.name.length) best = rule
  }
  return best
}
