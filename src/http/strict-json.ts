// Request bodies as JSON, stricter than JSON.parse: a member name given twice is refused (JSON.parse keeps
// the last one silently, so two parsers could read two different requests; RFC 8259 §4 says names SHOULD
// be unique) and so is nesting deeper than any request of ours needs. Pure.

/** Deeper than any body the tasks API takes (an object of strings and arrays of strings). */
export const MAX_JSON_DEPTH = 16

export type JsonProblem = 'syntax' | 'too_deep' | 'duplicate_member'

/** One public description per problem (a request's own input is never echoed). */
export const JSON_PROBLEMS: Record<JsonProblem, string> = {
  syntax: 'request body is not valid JSON',
  too_deep: 'the JSON body is nested too deeply',
  duplicate_member: 'the JSON body repeats a member name',
}

export type StrictJson = { ok: true; value: unknown } | { ok: false; problem: JsonProblem }

export function parseStrictJson(text: string, maxDepth = MAX_JSON_DEPTH): StrictJson {
  const problem = shapeProblem(text, maxDepth)
  if (problem) return { ok: false, problem }
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch {
    return { ok: false, problem: 'syntax' }
  }
}

const QUOTE = 0x22
const BACKSLASH = 0x5c

/**
 * One pass over the text, before JSON.parse: container depth and the member names of each open object.
 * Text that is not JSON may pass here; JSON.parse refuses it next.
 */
function shapeProblem(text: string, maxDepth: number): JsonProblem | undefined {
  // One entry per open container: the names seen so far for an object, null for an array.
  const open: Array<Set<string> | null> = []
  let expectName = false
  for (let i = 0; i < text.length; i++) {
    const char = text[i]
    if (char === '"') {
      let end = i + 1
      let escaped = false
      while (end < text.length && text.charCodeAt(end) !== QUOTE) {
        if (text.charCodeAt(end) === BACKSLASH) {
          escaped = true
          end++
        }
        end++
      }
      if (end >= text.length) return 'syntax'
      const names = open.at(-1)
      if (names && expectName) {
        const name = escaped ? decodeString(text.slice(i, end + 1)) : text.slice(i + 1, end)
        if (name === undefined) return 'syntax'
        if (names.has(name)) return 'duplicate_member'
        names.add(name)
        expectName = false
      }
      i = end
    } else if (char === '{' || char === '[') {
      if (open.length >= maxDepth) return 'too_deep'
      open.push(char === '{' ? new Set() : null)
      expectName = char === '{'
    } else if (char === '}' || char === ']') {
      open.pop()
      expectName = false
    } else if (char === ',') {
      expectName = Boolean(open.at(-1))
    }
  }
  return undefined
}

/** A quoted JSON string with escapes, as its value ("\u0061" and "a" are the same name). */
function decodeString(literal: string): string | undefined {
  try {
    return JSON.parse(literal) as string
  } catch {
    return undefined
  }
}
