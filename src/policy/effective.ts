// The effective policy of a path: the intersection of every level from the root down (a child can
// only narrow, never widen). Pure.
import type { ActionLevel } from './action-requirement.ts'
import type { PolicyPathSpec } from './schema.ts'

export type Mode = 'delegation' | 'impersonation'

export interface EffectivePolicy {
  path: string
  version: number
  /** Versions of every level that contributed, root first (for decision records). */
  versions: Record<string, number>
  /** Each level's own scope and lifetime ceilings, root first: which level narrowed what (constrainedBy). */
  levels: Array<{ path: string; scopes?: string[]; tokenLifetime?: number }>
  scopes?: string[]
  tokenLifetime?: number
  issuers: string[]
  subjectTypes?: string[]
  /** Clients whose tokens another client may exchange here (subjectTokens.holders). */
  holders: string[]
  modes: Mode[]
  actors?: string[]
  maxDepth: number
  intermediaries: Array<{ client: string; actors: string[] }>
  task: { required: boolean; maxLifetime?: number }
  /** RFC 9449: a DPoP proof is required (set at any level). */
  requireDpop: boolean
  /** The levels that declare actions, root first (policy/action-requirement.ts resolves one action). */
  actions: ActionLevel[]
}

export interface Level {
  path: string
  version: number
  spec: PolicyPathSpec
}

const intersect = (a: string[] | undefined, b: string[] | undefined): string[] | undefined =>
  a === undefined ? b && [...new Set(b)] : b === undefined ? a : a.filter((x) => b.includes(x))
const minimum = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined ? b : b === undefined ? a : Math.min(a, b)
const modesOf = (mode: string | undefined): Mode[] | undefined =>
  mode === undefined ? undefined : mode === 'either' ? ['delegation', 'impersonation'] : [mode as Mode]

/** Default depth when no level sets one: an agent may act, a sub-agent may not (least privilege). */
export const DEFAULT_MAX_DEPTH = 1

/** levels: root first, the bound path last. */
export function effectivePolicy(levels: readonly Level[]): EffectivePolicy {
  const leaf = levels.at(-1)
  if (!leaf) throw new Error('effectivePolicy needs at least the bound path')
  let scopes: string[] | undefined
  let tokenLifetime: number | undefined
  let issuers: string[] | undefined
  let subjectTypes: string[] | undefined
  let holders: string[] | undefined
  let modes: string[] | undefined
  let actors: string[] | undefined
  let maxDepth: number | undefined
  let intermediaries: Array<{ client: string; actors: string[] }> | undefined
  let taskRequired = false
  let taskLifetime: number | undefined
  let requireDpop = false
  for (const { spec } of levels) {
    scopes = intersect(scopes, spec.scopes)
    tokenLifetime = minimum(tokenLifetime, spec.tokenLifetime)
    issuers = intersect(issuers, spec.subjectTokens?.issuers)
    subjectTypes = intersect(subjectTypes, spec.subjectTokens?.types)
    holders = intersect(holders, spec.subjectTokens?.holders)
    modes = intersect(modes, modesOf(spec.delegation?.mode))
    actors = intersect(actors, spec.delegation?.actors)
    maxDepth = minimum(maxDepth, spec.delegation?.maxDepth)
    const levelIntermediaries = spec.delegation?.intermediaries
    if (levelIntermediaries) {
      // An intermediary must be trusted at every level that names intermediaries, for the same actors.
      intermediaries =
        intermediaries === undefined
          ? levelIntermediaries.map((i) => ({ client: i.client, actors: [...i.actors] }))
          : intermediaries
              .map((i) => ({
                client: i.client,
                actors: intersect(i.actors, levelIntermediaries.find((l) => l.client === i.client)?.actors ?? []) ?? [],
              }))
              .filter((i) => i.actors.length > 0)
    }
    taskRequired ||= spec.task?.required === true
    taskLifetime = minimum(taskLifetime, spec.task?.maxLifetime)
    requireDpop ||= spec.requireDpop === true
  }
  return {
    path: leaf.path,
    version: leaf.version,
    versions: Object.fromEntries(levels.map((level) => [level.path, level.version])),
    levels: levels.map(({ path, spec }) => ({
      path,
      ...(spec.scopes !== undefined ? { scopes: spec.scopes } : {}),
      ...(spec.tokenLifetime !== undefined ? { tokenLifetime: spec.tokenLifetime } : {}),
    })),
    ...(scopes !== undefined ? { scopes } : {}),
    ...(tokenLifetime !== undefined ? { tokenLifetime } : {}),
    issuers: issuers ?? ['self'],
    ...(subjectTypes !== undefined ? { subjectTypes } : {}),
    holders: holders ?? [],
    modes: (modes ?? ['delegation']) as Mode[],
    ...(actors !== undefined ? { actors } : {}),
    maxDepth: maxDepth ?? DEFAULT_MAX_DEPTH,
    intermediaries: intermediaries ?? [],
    task: { required: taskRequired, ...(taskLifetime !== undefined ? { maxLifetime: taskLifetime } : {}) },
    requireDpop,
    actions: levels.flatMap(({ path, spec }) => (spec.actions ? [{ path, rules: spec.actions }] : [])),
  }
}
