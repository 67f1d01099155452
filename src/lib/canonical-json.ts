// Deterministic JSON (sorted keys, RFC 8785 style for our plain data) and its SHA-256, so that an
// unchanged document hashes the same whatever its key order or formatting.
import { createHash } from 'node:crypto'

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

export const contentHash = (value: unknown): string => createHash('sha256').update(canonicalJson(value)).digest('hex')
