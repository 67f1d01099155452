// The access token of an Authorization header: `Bearer <token>` (RFC 6750 §2.1) or `DPoP <token>` (RFC 9449
// §7.1), the scheme case-insensitive and the token in the b64token syntax of both. Anything else is no token.
const SCHEMES = /^(Bearer|DPoP) ([\w.~+/-]+=*)$/i

export interface PresentedToken {
  scheme: 'bearer' | 'dpop'
  token: string
}

export function presentedToken(authorization: string): PresentedToken | undefined {
  const match = SCHEMES.exec(authorization)
  if (!match) return undefined
  return { scheme: (match[1] as string).toLowerCase() as PresentedToken['scheme'], token: match[2] as string }
}
