// One pino logger, JSON on stdout. Tokens, secrets and Authorization headers never reach a log line.
import pino, { type Logger } from 'pino'

export type Log = Logger

const CENSOR = '[redacted]'

// Matched by key name at any depth rather than by pino redact paths: those have one wildcard level
// each, so a top-level `token` or a `headers.authorization` one level deeper slipped through. Keys are
// compared lowercased without - and _, so `client_secret`, `clientSecret` and `Client-Secret` all match.
const sensitiveKeys = new Set([
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'dpop',
  'privatejwksealed',
  'masterkey',
  'privatekey',
  'privatejwk',
  'codeverifier',
  'databaseurl',
  'connectionstring',
])
const sensitiveSuffix = /(token|secret|password|assertion)$/

const isSensitiveKey = (key: string): boolean => {
  const normalized = key.toLowerCase().replace(/[-_]/g, '')
  return sensitiveKeys.has(normalized) || sensitiveSuffix.test(normalized)
}

/** Deeper than this a subtree is censored whole: a log line is never that deep, a cycle can be. */
const MAX_DEPTH = 12

/**
 * A copy of `value` with every sensitive key censored, sharing every untouched branch (no copy at all
 * when nothing is sensitive). Only plain objects and arrays are entered: errors and other instances
 * keep their prototype for pino's serializers.
 */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value !== 'object' || value === null) return value
  if (Array.isArray(value)) {
    if (depth >= MAX_DEPTH) return CENSOR
    let copy: unknown[] | undefined
    value.forEach((item, index) => {
      const redacted = redact(item, depth + 1)
      if (redacted === item) return
      copy ??= [...value]
      copy[index] = redacted
    })
    return copy ?? value
  }
  // An error, under any key, prints as pino's err serializer would print it, redacted; a URL prints
  // without its password; other values that serialise themselves (Date, Buffer) are left alone; any
  // other instance is walked by its own keys like a plain object, since those are all JSON prints of it.
  if (value instanceof Error) return redact({ ...pino.stdSerializers.err(value) }, depth + 1)
  if (value instanceof URL) return value.password ? Object.assign(new URL(value), { password: CENSOR }).href : value
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return value
  if (depth >= MAX_DEPTH) return CENSOR
  let copy: Record<string, unknown> | undefined
  for (const [key, item] of Object.entries(value)) {
    const redacted = isSensitiveKey(key) && item !== undefined ? CENSOR : redact(item, depth + 1)
    if (redacted === item) continue
    copy ??= { ...value }
    copy[key] = redacted
  }
  return copy ?? value
}

export function createLog(level: string, destination?: pino.DestinationStream): Log {
  return pino(
    {
      level,
      base: { service: 'mandate' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // formatters.log has already turned an error into its redacted plain form; an Error that reaches
      // this serializer otherwise (a child logger's bindings) is serialised and redacted here.
      serializers: { err: (error: unknown) => (error instanceof Error ? redact(error) : error) },
      formatters: {
        level: (label) => ({ level: label }),
        bindings: (bindings) => redact(bindings) as pino.Bindings,
        log: (object) => redact(object) as Record<string, unknown>,
      },
    },
    destination,
  )
}
