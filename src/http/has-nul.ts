// Text a request value may not hold: a NUL (Postgres text cannot store U+0000, so one reaching a query
// is a 500, and no parameter of ours has a use for it) or an unpaired UTF-16 surrogate (a JSON body can
// carry "\ud800"; Postgres jsonb refuses it). Compact JWTs are looked into too: claims such as `sub` and
// `iss` are read, unverified, to find the client or issuer to verify with, whatever their header says. Pure.

const JWT = /^[\w-]*\.[\w-]+\.[\w-]*$|^[\w-]+(\.[\w-]*){4}$/

/** True when `value` (a string, or arrays and objects of them, names included) holds text we refuse. */
export function hasNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return unfit(value) || (JWT.test(value) && jwtHasNul(value, depth))
  if (typeof value !== 'object' || value === null) return false
  // Bodies are depth-checked before they get here; this bound only keeps a cycle from looping.
  if (depth > 64) return true
  if (Array.isArray(value)) return value.some((item) => hasNul(item, depth + 1))
  return Object.entries(value).some(([name, item]) => hasNul(name, depth + 1) || hasNul(item, depth + 1))
}

const unfit = (text: string) => text.includes('\u0000') || !text.isWellFormed()

/**
 * The parts of a compact JWT that decode to JSON (the header, and the payload of a JWS; a JWE's other
 * parts are encrypted), checked as values. A part that is not JSON is noise no parser reads as claims.
 */
function jwtHasNul(token: string, depth: number): boolean {
  const parts = token.split('.')
  const readable = parts.length === 5 ? parts.slice(0, 1) : parts.slice(0, 2)
  return readable.some((part) => {
    let value: unknown
    try {
      value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
    } catch {
      return false
    }
    return typeof value === 'object' && value !== null && hasNul(value, depth + 1)
  })
}
