// What the bench's servers share: the bench documents' clients and resource (bench/documents/bench.yaml,
// mirrored by the baselines), the demo clients of examples/, and people's tokens of the demo IdP.
import { readFileSync } from 'node:fs'
import { generateKeyPair, importJWK, type JWK, SignJWT } from 'jose'

export const BENCH_RESOURCE = 'https://bench.example/'
export const BENCH_SCOPE = 'bench:read'
export const TICKETS_RESOURCE = 'https://tickets.example/'
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'

export const BENCH_CLIENTS = {
  agent: { id: 'bench-agent', secret: 'bench-agent-secret' },
  introspector: { id: 'bench-api', secret: 'bench-api-secret' },
  // The demo documents' agent and the tickets resource's introspector (examples/clients.yaml).
  taskAgent: { id: 'support-agent', secret: 'support-agent-demo-secret' },
  ticketsIntrospector: { id: 'tickets-api', secret: 'tickets-api-demo-secret' },
} as const

/** The demo IdP of examples/issuers.yaml. */
export const IDP = { issuer: 'https://idp.acme.example', audience: 'https://mandate.acme.example' } as const

export const basic = (client: { id: string; secret: string }) =>
  `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`

export type PersonToken = 'valid' | 'expired' | 'bad-signature'

/** A person's access token as the demo IdP issues it (RFC 9068), or a broken one for the refusal workloads. */
export async function personToken(sub: string, kind: PersonToken = 'valid'): Promise<string> {
  const jwk = JSON.parse(
    readFileSync(new URL('../examples/demo-idp/private-key.json', import.meta.url), 'utf8'),
  ) as JWK & { kid: string }
  // Same kid, another key: the signature is well formed and wrong.
  const key = kind === 'bad-signature' ? (await generateKeyPair('ES256')).privateKey : await importJWK(jwk, 'ES256')
  const now = Math.floor(Date.now() / 1000)
  const [iat, exp] = kind === 'expired' ? [now - 7200, now - 3600] : [now, now + 3 * 3600]
  return new SignJWT({ scope: `${BENCH_SCOPE} tickets:read tickets:write`, client_id: 'acme-portal' })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: jwk.kid })
    .setIssuer(IDP.issuer)
    .setSubject(sub)
    .setAudience(IDP.audience)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(crypto.randomUUID())
    .sign(key)
}
