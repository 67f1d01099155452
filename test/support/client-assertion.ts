// RFC 7523 client assertions for the private_key_jwt fixture client `jwt-agent` (test key only).
import { createPrivateKey, randomUUID } from 'node:crypto'
import { SignJWT } from 'jose'
import { personToken } from './idp.ts'
import { ACCESS_TOKEN } from './oauth.ts'

/** jwt-agent's private key (kid jwt-client-1), as a JWK. */
export const JWT_AGENT_KEY = {
  kty: 'EC',
  crv: 'P-256',
  x: 'mAiVn8qnWuhlB6XCmaNYqmJoAQFhvghRXicDvbzYSR0',
  y: 'oblPQfLswnsxB-CNng6i90IEkXmLEE4-M6evmVj0iC8',
  d: 'dTivt3WkXT_ctTAjpmgY-Jzldj7cDy40lsUT_8shdpo',
}
const key = createPrivateKey({ key: JWT_AGENT_KEY, format: 'jwk' })

export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

export function clientAssertion(
  audience: string,
  jti: string = randomUUID(),
  options: { iat?: number } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: 'jwt-client-1' })
    .setIssuer('jwt-agent')
    .setSubject('jwt-agent')
    .setAudience(audience)
    .setIssuedAt(options.iat ?? now)
    .setExpirationTime(now + 60)
    .setJti(jti)
    .sign(key)
}

/** A POST /tasks body for jwt-agent authenticating with `assertion`, for a fresh person token. */
export const taskBodyWithAssertion = async (assertion: string) => ({
  client_id: 'jwt-agent',
  client_assertion_type: JWT_BEARER,
  client_assertion: assertion,
  subject_token: await personToken({ scope: 'tickets:read' }),
  subject_token_type: ACCESS_TOKEN,
  purpose: 'p',
  resource: 'https://tickets.test/',
})
