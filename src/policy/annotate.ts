// The effective policy of a path, each value annotated with the levels it came from (issue 13: what an
// admin reads before changing a level). Values are effective.ts's own, so the annotation never disagrees
// with what is enforced; `from` names the levels that set the field (for a minimum, the ones at it), and
// an empty `from` means the default applies. Pure.
import { effectivePolicy, type Level } from './effective.ts'
import type { PolicyPathSpec } from './schema.ts'

export interface Annotated<T> {
  value: T
  from: string[]
}

export interface AnnotatedPolicy {
  path: string
  version: number
  versions: Record<string, number>
  scopes: Annotated<string[] | null>
  tokenLifetime: Annotated<number | null>
  subjectIssuers: Annotated<string[]>
  subjectTypes: Annotated<string[] | null>
  holders: Annotated<string[]>
  modes: Annotated<string[]>
  actors: Annotated<string[] | null>
  maxDepth: Annotated<number>
  intermediaries: Annotated<Array<{ client: string; actors: string[] }>>
  taskRequired: Annotated<boolean>
  taskMaxLifetime: Annotated<number | null>
  requireDpop: Annotated<boolean>
  actions: Array<{ path: string; rules: unknown[] }>
}

/** levels: root first, the path itself last. */
export function annotatedPolicy(levels: readonly Level[]): AnnotatedPolicy {
  const policy = effectivePolicy(levels)
  const setting = (read: (spec: PolicyPathSpec) => unknown) =>
    levels.filter((level) => read(level.spec) !== undefined).map((level) => level.path)
  const atMinimum = (read: (spec: PolicyPathSpec) => number | undefined, value: number | undefined) =>
    value === undefined ? [] : levels.filter((level) => read(level.spec) === value).map((level) => level.path)
  const settingTrue = (read: (spec: PolicyPathSpec) => boolean | undefined) =>
    levels.filter((level) => read(level.spec) === true).map((level) => level.path)
  return {
    path: policy.path,
    version: policy.version,
    versions: policy.versions,
    scopes: { value: policy.scopes ?? null, from: setting((s) => s.scopes) },
    tokenLifetime: {
      value: policy.tokenLifetime ?? null,
      from: atMinimum((s) => s.tokenLifetime, policy.tokenLifetime),
    },
    subjectIssuers: { value: policy.issuers, from: setting((s) => s.subjectTokens?.issuers) },
    subjectTypes: { value: policy.subjectTypes ?? null, from: setting((s) => s.subjectTokens?.types) },
    holders: { value: policy.holders, from: setting((s) => s.subjectTokens?.holders) },
    modes: { value: policy.modes, from: setting((s) => s.delegation?.mode) },
    actors: { value: policy.actors ?? null, from: setting((s) => s.delegation?.actors) },
    maxDepth: { value: policy.maxDepth, from: atMinimum((s) => s.delegation?.maxDepth, policy.maxDepth) },
    intermediaries: { value: policy.intermediaries, from: setting((s) => s.delegation?.intermediaries) },
    taskRequired: { value: policy.task.required, from: settingTrue((s) => s.task?.required) },
    taskMaxLifetime: {
      value: policy.task.maxLifetime ?? null,
      from: atMinimum((s) => s.task?.maxLifetime, policy.task.maxLifetime),
    },
    requireDpop: { value: policy.requireDpop, from: settingTrue((s) => s.requireDpop) },
    actions: policy.actions.map((level) => ({ path: level.path, rules: [...level.rules] })),
  }
}
