// RFC 9449 §11.1: a DPoP proof is used once. Its jti is claimed in the shared replay store until the
// proof could no longer be accepted (a second after its freshness window, measured from its own iat, or
// from now for a proof carrying a nonce), twice: for the presenting client, in the namespace
// oidc-provider uses for proofs at /token (so no proof is spent twice at one URL, whatever the grant),
// and for the proof's key (so a proof captured from one client cannot be spent by another).
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import { toDate } from '../lib/clock.ts'
import { claimOnce, replayClaimRows } from '../replay/claim-once.ts'
import { type DpopProof, PROOF_WINDOW } from './proof.ts'

/** Seconds a claim outlives the proof's acceptance, so the two never meet at one instant. */
const MARGIN = 1

const namespaces = (presenter: string, proof: DpopProof) => [presenter, `jkt:${proof.jkt}`]
const claimedUntil = (proof: DpopProof, now: number) => toDate(Math.max(now, proof.iat) + PROOF_WINDOW + MARGIN)

export function claimProof(db: Kysely<DB>, presenter: string, proof: DpopProof, now: number): Promise<boolean> {
  return claimOnce(db, namespaces(presenter, proof), proof.jti, claimedUntil(proof, now), toDate(now))
}

/** The same claims as rows, for a statement that spends the proof with what it writes. */
export const replayRows = (presenter: string, proof: DpopProof, now: number) => ({
  rows: replayClaimRows(namespaces(presenter, proof), proof.jti),
  until: claimedUntil(proof, now),
})
