// What changed between two versions of a document, in words for the audit trail: "adds spec.scopes
// other:write", "changes spec.accessTokenLifetime 5m → 10m", "removes metadata.description". The value of a
// field whose name says secret or password is never written, only that it changed.
import { canonicalJson } from '../lib/canonical-json.ts'

const SECRET = /secret|password/i

type Plain = Record<string, unknown>
const isPlain = (value: unknown): value is Plain => typeof value === 'object' && value !== null && !Array.isArray(value)
const isTextList = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string')
const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b)

export function documentChanges(before: unknown, after: unknown): string[] {
  const changes: string[] = []
  walk(before, after, [], changes)
  return changes
}

function walk(before: unknown, after: unknown, path: string[], changes: string[]): void {
  if (same(before, after)) return
  const at = path.join('.')
  const shown = !path.some((key) => SECRET.test(key))
  const value = (v: unknown) => (shown && (typeof v !== 'object' || v === null) ? ` ${String(v)}` : '')
  if (before === undefined) return void changes.push(`adds ${at}${value(after)}`)
  if (after === undefined) return void changes.push(`removes ${at}`)
  if (isPlain(before) && isPlain(after)) {
    for (const key of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort())
      walk(before[key], after[key], [...path, key], changes)
    return
  }
  if (shown && isTextList(before) && isTextList(after)) {
    const added = after.filter((item) => !before.includes(item))
    const removed = before.filter((item) => !after.includes(item))
    for (const item of added) changes.push(`adds ${at} ${item}`)
    for (const item of removed) changes.push(`removes ${at} ${item}`)
    if (added.length + removed.length === 0) changes.push(`reorders ${at}`)
    return
  }
  const scalars = typeof before !== 'object' && typeof after !== 'object'
  changes.push(scalars && shown ? `changes ${at} ${String(before)} → ${String(after)}` : `changes ${at}`)
}
