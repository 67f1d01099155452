// RFC 6749 §5.2: a token request answered with an error issued nothing, so it uses nothing up either.
// oidc-provider consumes a code, or rotates a refresh token, before it resolves the resource, holds the
// request to the policy path (a DPoP proof it now requires) and writes lineage: a refusal there
// (invalid_target, invalid_dpop_proof, an outage's 503 "retry later") left the client holding a spent
// value whose next use is a reuse, and a reuse revokes the whole grant (RFC 9700 §4.14.2). What the
// request consumed (adapter.ts usedOnceAdapter) is given back, and the refresh token it minted in its
// place, never sent, is deleted.
import type { Kysely } from 'kysely'
import type { KoaContextWithOIDC } from 'oidc-provider'
import type { DB } from '../db/schema.ts'
import { failClosed } from './errors.ts'

interface Spent {
  consumed: Array<{ model: string; id: string; at: Date }>
  minted: Array<{ model: string; id: string }>
}

const spentIn = new WeakMap<object, Spent>()

const spentOf = (ctx: object): Spent => {
  const spent = spentIn.get(ctx) ?? { consumed: [], minted: [] }
  spentIn.set(ctx, spent)
  return spent
}

/** This request consumed the code or refresh token `id` at `at` (it won the conditional UPDATE). */
export function noteConsumed(ctx: object | undefined, model: string, id: string, at: Date): void {
  if (ctx) spentOf(ctx).consumed.push({ model, id, at })
}

/** This request stored the refresh token `id` (rotation, or the first one of a code). */
export function noteMinted(ctx: object | undefined, model: string, id: string): void {
  if (ctx) spentOf(ctx).minted.push({ model, id })
}

/** oidc-provider middleware: after a refused request, gives back what it consumed. */
export function giveBackOnRefusal(db: Kysely<DB>) {
  return async function giveBackOnRefusal(ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> {
    await next()
    const spent = spentIn.get(ctx)
    if (!spent || ctx.status < 400) return
    for (const { model, id } of spent.minted)
      await failClosed(() => db.deleteFrom('oidc_payloads').where('model', '=', model).where('id', '=', id).execute())
    // Only the consumption this request made: a reuse seen meanwhile has revoked the grant (no row is left).
    for (const { model, id, at } of spent.consumed)
      await failClosed(() =>
        db
          .updateTable('oidc_payloads')
          .set({ consumed_at: null })
          .where('model', '=', model)
          .where('id', '=', id)
          .where('consumed_at', '=', at)
          .execute(),
      )
  }
}
