// Forged and broken tokens for refusal tests: each is built from a real token so it names a real jti.
import { createHmac, generateKeyPairSync } from 'node:crypto'
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose'

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** Same header and signature, one claim changed. */
export function tampered(token: string, claims: Record<string, unknown>): string {
  const [header, , signature] = token.split('.')
  return `${header}.${b64({ ...decodeJwt(token), ...claims })}.${signature}`
}

/** RFC 8725 §2.1: an unsecured JWT carrying the real claims. */
export const algNone = (token: string) => `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(decodeJwt(token))}.`

/** RFC 8725 §2.1 key confusion: HS256 "signed" with our published public key as the secret. */
export async function hs256WithPublicKey(token: string, jwksUrl: string): Promise<string> {
  const { keys } = (await (await fetch(jwksUrl)).json()) as { keys: Array<{ kid: string }> }
  const kid = decodeProtectedHeader(token).kid
  const publicJwk = keys.find((key) => key.kid === kid)
  const signingInput = `${b64({ alg: 'HS256', typ: 'at+jwt', kid })}.${b64(decodeJwt(token))}`
  const signature = createHmac('sha256', JSON.stringify(publicJwk)).update(signingInput).digest('base64url')
  return `${signingInput}.${signature}`
}

/** A correctly signed token from a key we never published. */
export async function unknownKid(token: string, kid = 'not-one-of-ours'): Promise<string> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return new SignJWT(decodeJwt(token)).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid }).sign(privateKey)
}
