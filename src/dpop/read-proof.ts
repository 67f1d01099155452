// The DPoP proof of one request at one of our endpoints (RFC 9449 §4.3), read the same way everywhere:
// verified against the URL the caller names (built from the issuer, never the Host), and a fresh nonce
// sent back with every answer to a proof and with every nonce problem (§8, §8.2). Problems are thrown as
// DpopProblem for each edge to answer in its own error vocabulary.
import type { IncomingHttpHeaders } from 'node:http'
import { type DpopProof, DpopProblem, type Nonces, verifyDpopProof } from './proof.ts'

export interface DpopSettings {
  nonces: Nonces
  requireNonce: boolean
}

/** The few request members read here (a koa Context or oidc-provider's fits). */
export interface ProofExchange {
  req: { headers: IncomingHttpHeaders }
  method: string
  set(field: string, value: string): void
}

export async function readDpopProof(
  ctx: ProofExchange,
  request: { url: string; now: number; accessToken?: string },
  dpop: DpopSettings,
): Promise<DpopProof | undefined> {
  const nextNonce = () => ctx.set('DPoP-Nonce', dpop.nonces.nextChallenge())
  try {
    const proof = await verifyDpopProof({
      header: ctx.req.headers.dpop,
      method: ctx.method,
      ...request,
      nonces: dpop.nonces,
      requireNonce: dpop.requireNonce,
    })
    if (proof) nextNonce()
    return proof
  } catch (error) {
    if (error instanceof DpopProblem && error.kind === 'nonce') nextNonce()
    throw error
  }
}
