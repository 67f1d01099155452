// NUL characters in request values. Postgres text cannot hold U+0000, so one reaching a query is a 500,
// and no parameter of ours has a use for it. Compact JWTs are looked into too: claims such as `sub` and
// `iss` are read, unverified, to find the client or issuer to verify with. Pure.

const JWT = /^[\w-]+\.[\w-]+\.[\w-]*$|^[\w-]+(\.[\w-]*){4}$/

/** True when `value` (a string, or arrays and objects of them, names included) holds a NUL. */
export function hasNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000') || (JWT.test(value) && jwtHasNul(value))
  if (typeof value !== 'object' || value === null) return false
  // Bodies are depth-checked before they get here; this bound only keeps a cycle from looping.
  if (depth > 64) return true
  if (Array.isArray(value)) return value.some((item) => hasNul(item, depth + 1))
  return Object.entries(value).some(([name, item]) => hasNul(name) || hasNul(item, depth + 1))
}

/**
 * A NUL in the decoded header or payload, raw or as the JSON escape \u0000. Only for a value whose first
 * part decodes to a JSON object: any other dotted word would decode to noise that may hold a zero byte.
 */
function jwtHasNul(token: string): boolean {
  const parts = token.split('.').map((part) => Buffer.from(part, 'base64url').toString('utf8'))
  const [header = ''] = parts
  if (!header.trimStart().startsWith('{')) return false
  // A JWE's second part is an encrypted key, not JSON: only its header is read.
  const readable = parts.length === 5 ? [header] : parts.slice(0, 2)
  return readable.some((json) => json.includes('\u0000') || /\\u0000/i.test(json))
}
