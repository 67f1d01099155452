// What must exist for the admin API to be reachable: the admin resource (tokens for it carry the
// mandate:admin scope) and, with MANDATE_BOOTSTRAP_ADMIN_SECRET, the client `mandate-admin`.
import type { Kysely } from 'kysely'
import { writeAudit } from '../audit/write.ts'
import { ADMIN_SCOPE } from '../clients/schema.ts'
import { hashSecret, verifySecret } from '../clients/secret-hash.ts'
import { findClient, upsertClient } from '../clients/store.ts'
import type { DB } from '../db/schema.ts'
import { type Clock, toDate } from '../lib/clock.ts'
import { contentHash } from '../lib/canonical-json.ts'
import { CLIENT_CREDENTIALS } from '../oauth/protocol.ts'
import { findResourceByName, upsertResource } from '../resources/store.ts'

/** RFC 8707 resource indicator of the admin API: request admin tokens with resource=urn:mandate:admin. */
export const ADMIN_RESOURCE = 'urn:mandate:admin'
/** The built-in admin resource: every server ensures it, no document declares it (never exported). */
export const ADMIN_RESOURCE_NAME = 'mandate-admin-api'
const BOOTSTRAP_ADMIN_CLIENT = 'mandate-admin'

export async function ensureAdminAccess(
  db: Kysely<DB>,
  options: { clock: Clock; bootstrapSecret?: string | undefined },
): Promise<void> {
  const now = toDate(options.clock.now())
  const resource = {
    name: ADMIN_RESOURCE_NAME,
    uri: ADMIN_RESOURCE,
    description: 'The Mandate admin API (built in).',
    labels: {},
    scopes: [ADMIN_SCOPE],
    introspectors: [],
    access_token_lifetime: 300,
  }
  const hash = contentHash(resource)
  if ((await findResourceByName(db, ADMIN_RESOURCE_NAME))?.content_hash !== hash) {
    await upsertResource(db, { ...resource, content_hash: hash }, now)
  }
  const secret = options.bootstrapSecret
  if (!secret) return
  const existing = await findClient(db, BOOTSTRAP_ADMIN_CLIENT)
  if (
    existing?.secret_hash &&
    existing.scopes.includes(ADMIN_SCOPE) &&
    (await verifySecret(secret, existing.secret_hash))
  )
    return
  const spec = { profile: 'service', grantTypes: [CLIENT_CREDENTIALS], scopes: [ADMIN_SCOPE] }
  await db.transaction().execute(async (trx) => {
    await upsertClient(
      trx,
      {
        client_id: BOOTSTRAP_ADMIN_CLIENT,
        description: 'Bootstrap administrator (MANDATE_BOOTSTRAP_ADMIN_SECRET)',
        labels: {},
        profile: 'service',
        secret_hash: await hashSecret(secret),
        jwks: null,
        grant_types: [CLIENT_CREDENTIALS],
        redirect_uris: [],
        scopes: [ADMIN_SCOPE],
        content_hash: contentHash({ metadata: { name: BOOTSTRAP_ADMIN_CLIENT }, spec }),
      },
      now,
    )
    await writeAudit(trx, {
      type: 'client.bootstrapped',
      at: options.clock.now(),
      actor: 'system',
      requestId: null,
      data: { client_id: BOOTSTRAP_ADMIN_CLIENT },
    })
  })
}
