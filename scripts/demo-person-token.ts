// Prints an access token of a person (default alice) as the demo company IdP would issue it:
// RFC 9068 shape, typ at+jwt, signed with examples/demo-idp/private-key.json (demo only).
import { readFileSync } from 'node:fs'
import { importJWK, SignJWT } from 'jose'

const sub = process.argv[2] ?? 'alice'
const scope = process.argv[3] ?? 'tickets:read tickets:write'
const jwk = JSON.parse(readFileSync(new URL('../examples/demo-idp/private-key.json', import.meta.url), 'utf8'))
const key = await importJWK(jwk, 'ES256')
const now = Math.floor(Date.now() / 1000)
const token = await new SignJWT({ scope, client_id: 'acme-portal' })
  .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: jwk.kid })
  .setIssuer('https://idp.acme.example')
  .setSubject(sub)
  .setAudience('https://mandate.acme.example')
  .setIssuedAt(now)
  .setExpirationTime(now + 3600)
  .setJti(crypto.randomUUID())
  .sign(key)
process.stdout.write(`${token}\n`)
