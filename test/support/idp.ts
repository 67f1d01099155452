// The test IdP (a trusted foreign issuer, fixtures/issuers.yaml): signs "person" access tokens.
// Its private key is a test fixture only.
import { createPrivateKey, generateKeyPairSync } from 'node:crypto'
import { SignJWT } from 'jose'

const privateKey = createPrivateKey({
  key: {
    kty: 'EC',
    crv: 'P-256',
    x: 'wVqB95h0QLZrWaCxHenF2Qdc5EbdRAD3Sn9c__ZDW6c',
    y: 'w0W_ITAEFlv-Fqcarts-HhGBqxaPMYvjNIW0Sg4soRA',
    d: 'lVmrXKFOceLEjfqsnwxphGGCNM9AuHVeRAVhRhuNCZI',
  },
  format: 'jwk',
})

const IDP_ISSUER = 'https://idp.test'

export interface PersonToken {
  sub?: string
  scope?: string
  expiresIn?: number
  typ?: string
  aud?: string
  iss?: string
  claims?: Record<string, unknown>
  /** Sign with a key the IdP never published. */
  foreignKey?: boolean
  /** Leave the scope claim out. */
  noScope?: boolean
  /** iat, epoch seconds (default now). */
  iat?: number
}

/** An access token of the person `sub` (default alice), as the company IdP would issue it. */
export function personToken(options: PersonToken = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const key = options.foreignKey ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey : privateKey
  const scope = options.noScope ? {} : { scope: options.scope ?? 'tickets:read tickets:write' }
  return new SignJWT({ ...scope, ...options.claims })
    .setProtectedHeader({ alg: 'ES256', typ: options.typ ?? 'at+jwt', kid: 'idp-1' })
    .setIssuer(options.iss ?? IDP_ISSUER)
    .setSubject(options.sub ?? 'alice')
    .setAudience(options.aud ?? 'https://mandate.test')
    .setIssuedAt(options.iat ?? now)
    .setExpirationTime(now + (options.expiresIn ?? 600))
    .setJti(crypto.randomUUID())
    .sign(key)
}
