// Environment (+ an optional YAML file that env overrides) → Config. Every problem is reported at
// once, each by the env name the operator must set (MANDATE_ + path in SCREAMING_SNAKE, __ nesting).
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import type * as z from 'zod'
import { Config, Flag } from './schema.ts'

/** Exit status for configuration errors (sysexits.h EX_CONFIG). */
export const EX_CONFIG = 78

export class ConfigError extends Error {
  override name = 'ConfigError'
  readonly problems: string[]

  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((line) => `  ${line}`).join('\n')}`)
    this.problems = problems
  }
}

/** The env var naming the optional YAML file; not itself a setting. */
const CONFIG_FILE_ENV = 'MANDATE_CONFIG'

const listSettings = new Set(['masterKey', 'allowHosts'])

export function loadConfig(env: Record<string, string | undefined>, options: { file?: string } = {}): Config {
  const problems: string[] = []
  const file = options.file ?? env[CONFIG_FILE_ENV]
  const input = file ? readConfigFile(file, problems) : {}

  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('MANDATE_') || name === CONFIG_FILE_ENV || value === undefined) continue
    const path = name.slice('MANDATE_'.length).split('__').map(camelCase)
    setPath(input, path, listSettings.has(path.at(-1) ?? '') ? value.split(',').filter(Boolean) : value)
  }
  if (env.NODE_ENV === 'production' && input.databaseUrl === undefined) {
    problems.push(
      'MANDATE_DATABASE_URL: required when NODE_ENV=production (the embedded database is for development only)',
    )
  }
  if (env.NODE_ENV === 'production') requireHttpsInProduction(input, problems)

  const parsed = Config.safeParse(input)
  if (!parsed.success) problems.push(...parsed.error.issues.flatMap(describeIssue))
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems)
  return parsed.data
}

/** Production fetches configured URLs (JWKS, webhooks) over https only; switching that off is an error. */
function requireHttpsInProduction(input: Record<string, unknown>, problems: string[]): void {
  const outbound = (typeof input.outbound === 'object' && input.outbound !== null ? input.outbound : {}) as Record<
    string,
    unknown
  >
  if (outbound.requireHttps === undefined) input.outbound = { ...outbound, requireHttps: true }
  else if (Flag.safeParse(outbound.requireHttps).data === false)
    problems.push('MANDATE_OUTBOUND__REQUIRE_HTTPS: must be true when NODE_ENV=production')
}

/** ['keys', 'publishDelay'] → MANDATE_KEYS__PUBLISH_DELAY. */
export const envName = (path: readonly PropertyKey[]): string =>
  'MANDATE_' +
  path
    .map((key) =>
      String(key)
        .replace(/[A-Z]/g, (c) => `_${c}`)
        .toUpperCase(),
    )
    .join('__')

function describeIssue(issue: z.core.$ZodIssue): string[] {
  const path = issue.path.filter((key) => typeof key !== 'number')
  if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => `${envName([...path, key])}: unknown setting`)
  return [`${envName(path)}: ${issue.message}`]
}

function readConfigFile(file: string, problems: string[]): Record<string, unknown> {
  try {
    const value: unknown = parseYaml(readFileSync(file, 'utf8'))
    if (value === null || value === undefined) return {}
    if (typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>
    problems.push(`${CONFIG_FILE_ENV}: ${file} must hold a YAML mapping of settings`)
  } catch (error) {
    problems.push(`${CONFIG_FILE_ENV}: cannot read ${file}: ${(error as Error).message}`)
  }
  return {}
}

const camelCase = (part: string): string =>
  part.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target
  for (const key of path.slice(0, -1)) {
    const next = node[key]
    node[key] = typeof next === 'object' && next !== null && !Array.isArray(next) ? next : {}
    node = node[key] as Record<string, unknown>
  }
  node[path.at(-1) as string] = value
}
