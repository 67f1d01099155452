// Durations written the way operators write them ("90s", "5m", "2h", "1d") and parsed to seconds.
import * as z from 'zod'

const units = { s: 1, m: 60, h: 3600, d: 86400 } as const

/** "5m" → 300; undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d{1,9})(s|m|h|d)$/.exec(text.trim())
  if (!match) return undefined
  return Number(match[1]) * units[match[2] as keyof typeof units]
}

/** Formats seconds back into the largest exact unit: 300 → "5m". */
export function formatDuration(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds > 0 && seconds % size === 0) return `${seconds / size}${unit}`
  }
  return `${seconds}s`
}

const durationOf = (min: number) =>
  z
    .union([z.string(), z.number().int().min(min)])
    .meta({ description: 'A duration: a whole number followed by s, m, h or d (for example "5m"), or seconds.' })
    .transform((text, ctx) => {
      if (typeof text === 'number') return text
      const seconds = parseDuration(text)
      if (seconds === undefined || seconds < min) {
        ctx.addIssue({ code: 'custom', message: 'must be a duration such as "90s", "5m", "2h" or "1d"' })
        return z.NEVER
      }
      return seconds
    })

/**
 * A duration such as "5m", parsed to whole seconds (at least 1). A plain number of seconds is also
 * accepted, so a parsed document (stored as JSON) parses again to the same value.
 */
export const Duration = durationOf(1)

/** A Duration that may also be "0s": for a wait that can be switched off. */
export const DurationOrZero = durationOf(0)
