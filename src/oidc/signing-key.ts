// oidc-provider signs through this one ExternalSigningKey, which delegates to the KeyRing, so a
// rotated key signs without rebuilding the provider. The kid is read back from the header being
// signed, so the kid and the signature always agree even if the active key changes mid-request.
import { sign as signWith } from 'node:crypto'
import { ExternalSigningKey } from 'oidc-provider'
import type { KeyRing } from '../keys/ring.ts'
import { SIGNING_ALG } from '../keys/store.ts'

export class KeyRingSigningKey extends ExternalSigningKey {
  readonly #ring: KeyRing

  constructor(ring: KeyRing) {
    super()
    this.#ring = ring
  }

  override get kid(): string {
    return this.#ring.signingKey().kid
  }

  override set kid(_value: string) {}

  override get alg(): string {
    return SIGNING_ALG
  }

  override set alg(_value: string) {}

  override keyObject() {
    return this.#ring.signingKey().publicKey
  }

  override async sign(data: Buffer): Promise<Buffer> {
    const encodedHeader = data.subarray(0, data.indexOf('.')).toString()
    const { kid } = JSON.parse(Buffer.from(encodedHeader, 'base64url').toString()) as { kid?: string }
    const key = kid === undefined ? undefined : this.#ring.privateKeyFor(kid)
    if (!key) throw new Error(`signing key ${kid} is not available`)
    // RFC 7518 §3.4: ES256 signatures are R || S (IEEE P1363), not DER.
    return signWith('sha256', data, { key, dsaEncoding: 'ieee-p1363' })
  }
}
