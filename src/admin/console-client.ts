// The console is an OpenID Connect relying party of Mandate itself (docs/admin-console.md): a confidential
// client the server registers at start, like the admin bootstrap, with its redirect URI on the admin port
// and a secret derived from the master key (so every process derives the same one and none is stored).
import { createHmac } from 'node:crypto'
import type { Kysely } from 'kysely'
import { verifySecret } from '../clients/secret-hash.ts'
import { findClient } from '../clients/store.ts'
import type { DB } from '../db/schema.ts'
import type { Clock } from '../lib/clock.ts'
import { AUTHORIZATION_CODE } from '../oauth/protocol.ts'
import { writeBuiltInClient } from './bootstrap.ts'

export const CONSOLE_CLIENT = 'mandate-admin-console'
export const CALLBACK_PATH = '/admin/callback'

export const consoleClientSecret = (masterKeys: readonly Buffer[]): string =>
  createHmac('sha256', masterKeys[0] as Buffer)
    .update('mandate admin console client secret')
    .digest('base64url')

/** Ensures the console's client, with this redirect URI and secret; rewritten only when either changed. */
export async function ensureConsoleClient(
  db: Kysely<DB>,
  options: { clock: Clock; redirectUri: string; secret: string },
): Promise<void> {
  const existing = await findClient(db, CONSOLE_CLIENT)
  if (
    existing?.secret_hash &&
    existing.redirect_uris.length === 1 &&
    existing.redirect_uris[0] === options.redirectUri &&
    existing.grant_types.join() === AUTHORIZATION_CODE &&
    existing.scopes.length === 0 &&
    (await verifySecret(options.secret, existing.secret_hash))
  )
    return
  // Only openid: the console learns who signed in (the ID token) and gets no token for any resource.
  await writeBuiltInClient(db, options.clock, {
    clientId: CONSOLE_CLIENT,
    description: 'Mandate admin console',
    profile: 'app',
    grantTypes: [AUTHORIZATION_CODE],
    redirectUris: [options.redirectUri],
    scopes: [],
    secret: options.secret,
  })
}
