// The demo company IdP of examples/issuers.yaml (acme-idp): people's access tokens signed with
// examples/demo-idp/private-key.json, as `npm run demo:person-token` prints them, for tests of the demo.
import { readFileSync } from 'node:fs'
import { importJWK, type JWK, SignJWT } from 'jose'

const jwk = JSON.parse(
  readFileSync(new URL('../../examples/demo-idp/private-key.json', import.meta.url), 'utf8'),
) as JWK & { kid: string }

/** An access token of the person `sub`, issued `age` seconds ago (default now). */
export async function demoPersonToken(sub = 'alice', { age = 0 } = {}): Promise<string> {
  const iat = Math.floor(Date.now() / 1000) - age
  return new SignJWT({ scope: 'tickets:read tickets:write', client_id: 'acme-portal' })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: jwk.kid })
    .setIssuer('https://idp.acme.example')
    .setSubject(sub)
    .setAudience('https://mandate.acme.example')
    .setIssuedAt(iat)
    .setExpirationTime(iat + 3600)
    .setJti(crypto.randomUUID())
    .sign(await importJWK(jwk, 'ES256'))
}
