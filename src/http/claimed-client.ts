// The client id a request claims, read without verifying anything: the key of per-client rate limits,
// known before the (costly) authentication runs. Never an identity to act on. Pure.

/** Longer claims are cut: a key in memory, not an identity. */
const MAX_LENGTH = 200

/** From the Basic header, else client_id, else the client_assertion's sub (RFC 7523 §3), as oidc-provider reads them. */
export function claimedClientId(
  authorization: string | undefined,
  params: Record<string, unknown>,
): string | undefined {
  const claimed = fromBasic(authorization) ?? text(params.client_id) ?? fromAssertion(params.client_assertion)
  return claimed?.slice(0, MAX_LENGTH)
}

const text = (value: unknown) => (typeof value === 'string' && value.length > 0 ? value : undefined)

function fromBasic(authorization: string | undefined): string | undefined {
  const match = /^basic +(\S+)$/i.exec(authorization ?? '')
  if (!match) return undefined
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 1) return undefined
  // RFC 6749 §2.3.1: the id is form-encoded before base64.
  const id = decoded.slice(0, colon).replace(/\+/g, ' ')
  try {
    return decodeURIComponent(id)
  } catch {
    return id
  }
}

function fromAssertion(assertion: unknown): string | undefined {
  const payload = text(assertion)?.split('.')[1]
  if (!payload) return undefined
  try {
    const { sub } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown }
    return text(sub)
  } catch {
    return undefined
  }
}
