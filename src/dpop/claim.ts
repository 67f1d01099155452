// RFC 9449 §11.1: a DPoP proof is used once. Its jti is claimed in the shared replay store for as long
// as the proof could be accepted (its freshness window, or a nonce's), per client — in the same
// namespace oidc-provider uses for proofs at /token, so no proof is spent twice at one URL.
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import { toDate } from '../lib/clock.ts'
import { claimOnce } from '../replay/claim-once.ts'
import { type DpopProof, PROOF_WINDOW } from './proof.ts'

export function claimProof(db: Kysely<DB>, presenter: string, proof: DpopProof, now: number): Promise<boolean> {
  return claimOnce(db, presenter, proof.jti, toDate(Math.max(now, proof.iat) + PROOF_WINDOW), toDate(now))
}
