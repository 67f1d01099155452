// RFC 9449 DPoP proofs for tests: a client key pair and proofs for one request each (test keys only).
import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto'
import { calculateJwkThumbprint, exportJWK, type JWK, SignJWT } from 'jose'

export interface DpopKey {
  /** RFC 7638 thumbprint: what a bound token's cnf.jkt names. */
  jkt: string
  proof(method: string, url: string, options?: ProofOptions): Promise<string>
}

export interface ProofOptions {
  /** The access token the request presents (ath). */
  accessToken?: string
  nonce?: string
  iat?: number
  jti?: string
}

export async function dpopKey(): Promise<DpopKey> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const jwk = (await exportJWK(publicKey)) as JWK
  return {
    jkt: await calculateJwkThumbprint(jwk, 'sha256'),
    proof: (method, url, options = {}) =>
      new SignJWT({
        htm: method,
        htu: url,
        ...(options.accessToken ? { ath: createHash('sha256').update(options.accessToken).digest('base64url') } : {}),
        ...(options.nonce ? { nonce: options.nonce } : {}),
      })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
        .setIssuedAt(options.iat ?? Math.floor(Date.now() / 1000))
        .setJti(options.jti ?? randomUUID())
        .sign(privateKey),
  }
}
