// Verifies a DPoP proof JWT (RFC 9449 §4.3) for our own endpoints: the token exchange, the tasks API
// and the admin API. Signature by the embedded public key, typ, alg, htm, htu (query and fragment
// ignored), freshness or a server nonce, and ath when an access token is presented (§7.1). The caller
// claims the jti once (replay, §11.1). Throws DpopProblem for any problem; never touches storage.
import { createHash } from 'node:crypto'
import { calculateJwkThumbprint, EmbeddedJWK, type JWK, jwtVerify } from 'jose'

/** RFC 9449 §5.1 (dpop_signing_alg_values_supported): asymmetric algorithms only. */
export const DPOP_ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'Ed25519', 'PS256', 'RS256'] as const
/** Seconds a proof is fresh without a nonce, either side of now (oidc-provider's window, so both agree). */
export const PROOF_WINDOW = 300

export interface DpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key: what a bound token's cnf.jkt names. */
  jkt: string
  jti: string
  iat: number
}

/** What went wrong, for the answer: an invalid proof, or a (new) nonce the client must use. */
export class DpopProblem extends Error {
  override name = 'DpopProblem'
  readonly kind: 'invalid' | 'nonce'
  constructor(kind: 'invalid' | 'nonce', detail: string) {
    super(detail)
    this.kind = kind
  }
}

export interface Nonces {
  nextChallenge(): string
  checkChallenge(value: string): boolean
}

export interface ProofRequest {
  /** The DPoP header value(s) as received; several headers are refused (RFC 9449 §4.3 check 1). */
  header: string | string[] | undefined
  method: string
  /** The URL the proof must name: built from the issuer, never from the request's Host. */
  url: string
  /** The access token the request presents with this proof (RFC 9449 §7.1: ath). */
  accessToken?: string
  now: number
  nonces?: Nonces | undefined
  requireNonce?: boolean
}

const invalid = (detail: string) => new DpopProblem('invalid', detail)

/** The proof's facts, or undefined when the request carries none. */
export async function verifyDpopProof(request: ProofRequest): Promise<DpopProof | undefined> {
  const { header } = request
  if (header === undefined || header === '') return undefined
  if (Array.isArray(header) || header.includes(',')) throw invalid('more than one DPoP header')
  let payload: Record<string, unknown>
  let jwk: JWK
  try {
    const verified = await jwtVerify(header, EmbeddedJWK, {
      algorithms: [...DPOP_ALGORITHMS],
      typ: 'dpop+jwt',
      // Freshness is checked below, against our clock and the nonce.
      currentDate: new Date(request.now * 1000),
    })
    payload = verified.payload as Record<string, unknown>
    jwk = verified.protectedHeader.jwk as JWK
  } catch {
    // Whatever the proof broke (jose's checks, or WebCrypto refusing its key: a point off the curve is a
    // DOMException), it is the client's proof that is bad; nothing here touches storage or the network.
    throw invalid('invalid DPoP proof JWT')
  }
  const { jti, iat, htm, htu, nonce, ath } = payload
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) throw invalid('jti must be a string')
  if (typeof iat !== 'number') throw invalid('iat must be a number')
  if (htm !== request.method) throw invalid('htm mismatch')
  if (typeof htu !== 'string' || withoutQuery(htu) !== withoutQuery(request.url)) throw invalid('htu mismatch')
  if (request.accessToken !== undefined && ath !== hash(request.accessToken)) throw invalid('ath mismatch')
  if (nonce !== undefined) {
    if (typeof nonce !== 'string' || !request.nonces?.checkChallenge(nonce)) {
      throw new DpopProblem('nonce', 'invalid or expired nonce')
    }
  } else if (request.requireNonce) {
    throw new DpopProblem('nonce', 'a nonce is required')
  } else if (Math.abs(request.now - iat) > PROOF_WINDOW) {
    throw request.nonces ? new DpopProblem('nonce', 'iat is not recent enough') : invalid('iat is not recent enough')
  }
  let jkt: string
  try {
    jkt = await calculateJwkThumbprint(jwk, 'sha256')
  } catch {
    throw invalid('invalid DPoP proof key')
  }
  return { jkt, jti, iat }
}

/** RFC 9449 §4.2: ath is the base64url SHA-256 of the access token's ASCII value. */
const hash = (token: string) => createHash('sha256').update(token).digest('base64url')

function withoutQuery(url: string): string | undefined {
  const parsed = URL.parse(url)
  if (!parsed) return undefined
  parsed.search = ''
  parsed.hash = ''
  return parsed.href
}
