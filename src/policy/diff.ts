// What changed between two versions of a policy path, in an admin's words ("adds scope tickets:write",
// "raises tokenLifetime 5m → 15m", "allows actor triage-subagent"), each marked when it broadens what the
// path lets through. A field a level leaves out does not constrain at that level (effective.ts), so
// dropping one broadens. The broadening marks are what a change must confirm (issue 13). Pure.
import { formatDuration } from '../lib/duration.ts'
import { TOKEN_EXCHANGE } from '../oauth/protocol.ts'
import { DEFAULT_MAX_DEPTH } from './effective.ts'
import { type PolicyPathDocument, type PolicyPathSpec, SELF_ISSUER } from './schema.ts'

export interface Change {
  /** The field, as a JSON pointer into spec (or metadata). */
  field: string
  text: string
  broadening: boolean
}

type Rule = NonNullable<PolicyPathSpec['actions']>[number]

/**
 * Whether unbinding a triple of this grant broadens: an unbound token exchange is refused, but an unbound
 * client_credentials or authorization_code request has no path ceiling at all (delegation/load-policy.ts).
 */
export const unbindingBroadens = (grantType: string): boolean => grantType !== TOKEN_EXCHANGE

/** A removed binding in words, marked when its grant is then bounded by the client and resource alone. */
export const unbindingText = (b: PolicyPathSpec['bindings'][number]): string =>
  `removes binding ${b.client} → ${b.resource} (${b.grantType})${unbindingBroadens(b.grantType) ? ': no path ceiling is left for it' : ''}`

const added = <T>(before: readonly T[], after: readonly T[], key: (t: T) => string = String) =>
  after.filter((item) => !before.some((other) => key(other) === key(item)))

/** A list ceiling: undefined is no ceiling at this level. */
function listCeiling(field: string, noun: string, before: string[] | undefined, after: string[] | undefined): Change[] {
  if (before === undefined && after === undefined) return []
  if (after === undefined)
    return [{ field, text: `removes the ${noun} list (no longer limits ${noun}s)`, broadening: true }]
  if (before === undefined)
    return [{ field, text: `limits ${noun}s to ${after.join(', ') || 'none'}`, broadening: false }]
  return [
    ...added(before, after).map((item) => ({ field, text: `adds ${noun} ${item}`, broadening: true })),
    ...added(after, before).map((item) => ({ field, text: `removes ${noun} ${item}`, broadening: false })),
  ]
}

/** A numeric ceiling: undefined is no ceiling at this level. */
function ceiling(
  field: string,
  name: string,
  before: number | undefined,
  after: number | undefined,
  show: (n: number) => string = String,
): Change[] {
  if (before === after) return []
  if (after === undefined) return [{ field, text: `removes ${name} (was ${show(before as number)})`, broadening: true }]
  if (before === undefined) return [{ field, text: `sets ${name} to ${show(after)}`, broadening: false }]
  return [
    {
      field,
      text: `${after > before ? 'raises' : 'lowers'} ${name} ${show(before)} → ${show(after)}`,
      broadening: after > before,
    },
  ]
}

/** A requirement: true demands something; anything else does not. */
function requirement(field: string, what: string, before: boolean | undefined, after: boolean | undefined): Change[] {
  if ((before === true) === (after === true)) return []
  return after === true
    ? [{ field, text: `requires ${what}`, broadening: false }]
    : [{ field, text: `no longer requires ${what}`, broadening: true }]
}

/**
 * A field with a default (holders none, mode delegation, intermediaries none) left out at this level after
 * being set: the level no longer limits it, so a wider parent's value applies (effective.ts).
 */
const dropped = (field: string, noun: string, before: unknown, after: unknown): Change[] =>
  before !== undefined && after === undefined
    ? [{ field, text: `removes its ${noun} (a parent's ${noun} apply)`, broadening: true }]
    : []

const MODES: Record<string, string[]> = {
  delegation: ['delegation'],
  impersonation: ['impersonation'],
  either: ['delegation', 'impersonation'],
}

function ruleChanges(name: string, before: Rule, after: Rule): Change[] {
  const field = `/spec/actions/${name}`
  const needs = (rule: Rule) => rule.scopes ?? []
  const rate = (rule: Rule) => rule.rate && `${rule.rate.max} per ${formatDuration(rule.rate.per)}`
  const perSecond = (rule: Rule) => (rule.rate ? rule.rate.max / rule.rate.per : undefined)
  const changes: Change[] = []
  if (before.class !== after.class)
    changes.push({
      field,
      text: `changes the class of action ${name} ${before.class} → ${after.class}`,
      broadening: false,
    })
  // Required scopes are a demand, not a ceiling: fewer of them broadens.
  for (const scope of added(needs(after), needs(before)))
    changes.push({ field: `${field}/scopes`, text: `no longer requires scope ${scope} for ${name}`, broadening: true })
  for (const scope of added(needs(before), needs(after)))
    changes.push({ field: `${field}/scopes`, text: `requires scope ${scope} for ${name}`, broadening: false })
  changes.push(
    ...requirement(`${field}/task`, `a task for ${name}`, before.task === 'required', after.task === 'required'),
    ...requirement(
      `${field}/approval`,
      `the delegator's approval for ${name}`,
      before.approval === 'delegator',
      after.approval === 'delegator',
    ),
    ...ceiling(`${field}/maxDepth`, `maxDepth of ${name}`, before.maxDepth, after.maxDepth),
    ...listCeiling(`${field}/actors`, `actor of ${name}`, before.actors, after.actors),
  )
  const [was, now] = [perSecond(before), perSecond(after)]
  // GCRA (evaluation/rates.ts) lets `max` through at once: a larger max is a larger burst at the same rate.
  const [burstWas, burstNow] = [before.rate?.max ?? 0, after.rate?.max ?? 0]
  if (was !== now || burstWas !== burstNow) {
    const raised = was !== undefined && now !== undefined && (now > was || burstNow > burstWas)
    const lowered = was !== undefined && now !== undefined && (now < was || burstNow < burstWas)
    changes.push({
      field: `${field}/rate`,
      text:
        now === undefined
          ? `removes the rate of ${name} (was ${rate(before)})`
          : was === undefined
            ? `limits ${name} to ${rate(after)}`
            : `${raised ? (lowered ? 'changes' : 'raises') : 'lowers'} the rate of ${name} ${rate(before)} → ${rate(after)}`,
      broadening: now === undefined || raised,
    })
  }
  // A cache lets a resource server skip the decision point for that long: adding or raising one broadens.
  if (before.cache !== after.cache)
    changes.push({
      field: `${field}/cache`,
      text:
        after.cache === undefined
          ? `stops caching allows of ${name}`
          : before.cache === undefined
            ? `caches allows of ${name} for ${formatDuration(after.cache)}`
            : `${after.cache > before.cache ? 'raises' : 'lowers'} the cache of ${name} ${formatDuration(before.cache)} → ${formatDuration(after.cache)}`,
      broadening: after.cache !== undefined && (before.cache === undefined || after.cache > before.cache),
    })
  return changes
}

export function diffSpecs(before: PolicyPathSpec | undefined, after: PolicyPathSpec): Change[] {
  const was = before ?? ({ bindings: [] } as PolicyPathSpec)
  const bindingKey = (b: PolicyPathSpec['bindings'][number]) => `${b.client} → ${b.resource} (${b.grantType})`
  const modes = (spec: PolicyPathSpec) => MODES[spec.delegation?.mode ?? 'delegation'] as string[]
  const beforeRules = new Map((was.actions ?? []).map((rule) => [rule.name, rule]))
  const afterRules = new Map((after.actions ?? []).map((rule) => [rule.name, rule]))
  const intermediaries = (spec: PolicyPathSpec) =>
    (spec.delegation?.intermediaries ?? []).flatMap((i) => i.actors.map((actor) => `${i.client} for ${actor}`))
  return [
    ...added(was.bindings, after.bindings, bindingKey).map((b) => ({
      field: '/spec/bindings',
      text: `adds binding ${bindingKey(b)}`,
      broadening: true,
    })),
    ...added(after.bindings, was.bindings, bindingKey).map((b) => ({
      field: '/spec/bindings',
      text: unbindingText(b),
      broadening: unbindingBroadens(b.grantType),
    })),
    ...listCeiling('/spec/scopes', 'scope', was.scopes, after.scopes),
    ...ceiling('/spec/tokenLifetime', 'tokenLifetime', was.tokenLifetime, after.tokenLifetime, formatDuration),
    // With no level naming issuers only our own tokens are accepted: a first list naming another broadens.
    ...listCeiling(
      '/spec/subjectTokens/issuers',
      'subject issuer',
      was.subjectTokens?.issuers,
      after.subjectTokens?.issuers,
    ).map((change) =>
      was.subjectTokens?.issuers === undefined && after.subjectTokens?.issuers?.some((i) => i !== SELF_ISSUER)
        ? { ...change, broadening: true }
        : change,
    ),
    ...listCeiling(
      '/spec/subjectTokens/types',
      'subject token type',
      was.subjectTokens?.types,
      after.subjectTokens?.types,
    ),
    // holders and modes have defaults, not "no limit": none besides the caller's own tokens; delegation only.
    ...dropped('/spec/subjectTokens/holders', 'holders', was.subjectTokens?.holders, after.subjectTokens?.holders),
    ...listCeiling(
      '/spec/subjectTokens/holders',
      'holder',
      was.subjectTokens?.holders ?? [],
      after.subjectTokens?.holders ?? [],
    ),
    ...dropped('/spec/delegation/mode', 'modes', was.delegation?.mode, after.delegation?.mode),
    ...listCeiling('/spec/delegation/mode', 'mode', modes(was), modes(after)).map((change) => ({
      ...change,
      text: change.text.replace(/^adds mode (\w+)/, 'allows $1').replace(/^removes mode (\w+)/, 'no longer allows $1'),
    })),
    ...listCeiling('/spec/delegation/actors', 'actor', was.delegation?.actors, after.delegation?.actors).map(
      (change) => ({
        ...change,
        text: change.text.replace(/^adds actor/, 'allows actor').replace(/^removes actor/, 'no longer allows actor'),
      }),
    ),
    // With no level setting maxDepth it is DEFAULT_MAX_DEPTH: a first one above it broadens.
    ...ceiling('/spec/delegation/maxDepth', 'maxDepth', was.delegation?.maxDepth, after.delegation?.maxDepth).map(
      (change) =>
        was.delegation?.maxDepth === undefined && (after.delegation?.maxDepth ?? 0) > DEFAULT_MAX_DEPTH
          ? { ...change, broadening: true }
          : change,
    ),
    ...dropped(
      '/spec/delegation/intermediaries',
      'intermediaries',
      was.delegation?.intermediaries,
      after.delegation?.intermediaries,
    ),
    ...added(intermediaries(was), intermediaries(after)).map((text) => ({
      field: '/spec/delegation/intermediaries',
      text: `trusts intermediary ${text}`,
      broadening: true,
    })),
    ...added(intermediaries(after), intermediaries(was)).map((text) => ({
      field: '/spec/delegation/intermediaries',
      text: `no longer trusts intermediary ${text}`,
      broadening: false,
    })),
    ...requirement('/spec/task/required', 'a task', was.task?.required, after.task?.required),
    ...ceiling(
      '/spec/task/maxLifetime',
      'task maxLifetime',
      was.task?.maxLifetime,
      after.task?.maxLifetime,
      formatDuration,
    ),
    ...requirement('/spec/requireDpop', 'DPoP', was.requireDpop, after.requireDpop),
    ...actionChanges(beforeRules, afterRules, was.actions !== undefined, after.actions !== undefined),
  ]
}

function actionChanges(
  before: Map<string, Rule>,
  after: Map<string, Rule>,
  declaredBefore: boolean,
  declaredAfter: boolean,
): Change[] {
  const field = '/spec/actions'
  // A level that declares no actions leaves every action to scope alone (docs/runtime-authorization.md).
  if (declaredBefore && !declaredAfter)
    return [{ field, text: 'removes its action rules (actions are left to scope alone)', broadening: true }]
  if (!declaredBefore && declaredAfter)
    return [{ field, text: `allows only actions ${[...after.keys()].join(', ')}`, broadening: false }]
  return [
    ...[...after.keys()]
      .filter((name) => !before.has(name))
      .map((name) => ({ field, text: `allows action ${name}`, broadening: true })),
    ...[...before.keys()]
      .filter((name) => !after.has(name))
      .map((name) => ({ field, text: `no longer allows action ${name}`, broadening: false })),
    ...[...after].flatMap(([name, rule]) => {
      const old = before.get(name)
      return old ? ruleChanges(name, old, rule) : []
    }),
  ]
}

/** The whole document: metadata changes (never broadening) and the spec's. */
export function diffDocuments(before: PolicyPathDocument | undefined, after: PolicyPathDocument): Change[] {
  const meta = (['description', 'owner'] as const).flatMap((key) =>
    (before?.metadata[key] ?? null) === (after.metadata[key] ?? null)
      ? []
      : [{ field: `/metadata/${key}`, text: `changes ${key}`, broadening: false }],
  )
  return [...meta, ...diffSpecs(before?.spec, after.spec)]
}

/** A line diff (longest common subsequence): lines kept start with "  ", removed "- ", added "+ ". */
export function lineDiff(before: string, after: string): string {
  const a = before.split('\n')
  const b = after.split('\n')
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0))
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--)
      (lcs[i] as number[])[j] =
        a[i] === b[j]
          ? ((lcs[i + 1] as number[])[j + 1] as number) + 1
          : Math.max((lcs[i + 1] as number[])[j] as number, (lcs[i] as number[])[j + 1] as number)
  const out: string[] = []
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push(`  ${a[i]}`)
      i++
      j++
    } else if (
      j < b.length &&
      (i === a.length || ((lcs[i] as number[])[j + 1] as number) >= ((lcs[i + 1] as number[])[j] as number))
    ) {
      out.push(`+ ${b[j]}`)
      j++
    } else {
      out.push(`- ${a[i]}`)
      i++
    }
  }
  return out.join('\n')
}
