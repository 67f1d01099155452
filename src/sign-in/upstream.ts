// The sign-in pages' view of upstream sign-in (src/upstream/): the providers of the request's catalog
// generation, the first leg, and the callback, all with Mandate's one callback URI.
import type { Kysely } from 'kysely'
import type { CatalogSource } from '../catalog/source.ts'
import type { DB } from '../db/schema.ts'
import { type Clock, toDate } from '../lib/clock.ts'
import type { OutboundFetch } from '../outbound/fetch.ts'
import { finishUpstreamSignIn } from '../upstream/finish.ts'
import { startUpstreamSignIn } from '../upstream/start.ts'
import { upstreamLoginInteraction } from '../upstream/store.ts'
import type { UpstreamSignIn } from './routes.ts'

export interface UpstreamPagesDeps {
  db: Kysely<DB>
  catalog: CatalogSource
  clock: Clock
  clockTolerance: number
  fetchOutbound: OutboundFetch
  issuer: string
}

/** The redirect URI to register at every upstream provider. */
export const upstreamCallback = (issuer: string): string => `${issuer}/login/callback`

export function upstreamSignIn(deps: UpstreamPagesDeps): UpstreamSignIn {
  const redirectUri = upstreamCallback(deps.issuer)
  return {
    async issuers() {
      return (await deps.catalog.current())
        .loginIssuers()
        .map((issuer) => ({ name: issuer.name, label: issuer.description ?? issuer.name }))
    },
    async start(name, interactionUid) {
      const issuer = (await deps.catalog.current()).loginIssuer(name)
      return issuer && startUpstreamSignIn(deps, { issuer, interactionUid, redirectUri })
    },
    interactionOf: (state) => upstreamLoginInteraction(deps.db, state, toDate(deps.clock.now())),
    finish: (callbackUrl, interactionUid) =>
      finishUpstreamSignIn(
        { ...deps, loginIssuer: async (name) => (await deps.catalog.current()).loginIssuer(name) },
        { callbackUrl, redirectUri, interactionUid },
      ),
  }
}
