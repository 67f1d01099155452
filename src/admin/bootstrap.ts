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
  await writeBuiltInClient(db, options.clock, {
    clientId: BOOTSTRAP_ADMIN_CLIENT,
    description: 'Bootstrap administrator (MANDATE_BOOTSTRAP_ADMIN_SECRET)',
    profile: 'service',
    grantTypes: [CLIENT_CREDENTIALS],
    redirectUris: [],
    scopes: [ADMIN_SCOPE],
    secret,
  })
}

/**
 * Writes a client the server itself registers (the bootstrap admin, the console's relying party) with its
 * `client.bootstrapped` audit event, in one transaction: only its secret's hash is stored.
 */
export async function writeBuiltInClient(
  db: Kysely<DB>,
  clock: Clock,
  client: {
    clientId: string
    description: string
    profile: 'service' | 'app'
    grantTypes: string[]
    redirectUris: string[]
    scopes: string[]
    secret: string
  },
): Promise<void> {
  const { clientId, description, profile, grantTypes, redirectUris, scopes, secret } = client
  const spec = { profile, grantTypes, ...(redirectUris.length > 0 ? { redirectUris } : {}), scopes }
  await db.transaction().execute(async (trx) => {
    await upsertClient(
      trx,
      {
        client_id: clientId,
        description,
        labels: {},
        profile,
        secret_hash: await hashSecret(secret),
        jwks: null,
        grant_types: grantTypes,
        redirect_uris: redirectUris,
        scopes,
        content_hash: contentHash({ metadata: { name: clientId }, spec }),
      },
      toDate(clock.now()),
    )
    await writeAudit(trx, {
      type: 'client.bootstrapped',
      at: clock.now(),
      actor: 'system',
      requestId: null,
      data: { client_id: clientId, ...(redirectUris.length > 0 ? { redirect_uri: redirectUris[0] } : {}) },
    })
  })
}
