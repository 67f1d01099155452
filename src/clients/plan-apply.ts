// Plans `kind: Client`: the secret is hashed (or an existing hash kept when it still matches), so
// re-applying the same document is a no-op even though every hash is salted.
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import { contentHash } from '../lib/canonical-json.ts'
import { type Planned, stored, unchanged } from '../documents/plan.ts'
import type { ClientDocument } from './schema.ts'
import { hashSecret, verifySecret } from './secret-hash.ts'
import { findClient, upsertClient } from './store.ts'

/**
 * `managed`: the caller keeps the secret (the admin API generates secrets, so its documents carry none) and
 * says which hash to store; the document's spec.secret is then ignored.
 */
export async function planClient(
  db: Kysely<DB>,
  doc: ClientDocument,
  managed?: { secretHash: string | null },
): Promise<Planned> {
  const { metadata, spec } = doc
  const existing = await findClient(db, metadata.name)
  const { secret, ...rest } = spec
  const hash = contentHash({ metadata, spec: rest })
  const keptHash =
    !managed && secret !== undefined && existing?.secret_hash && (await verifySecret(secret, existing.secret_hash))
      ? existing.secret_hash
      : undefined
  const sameSecret = managed
    ? existing?.secret_hash === managed.secretHash
    : secret === undefined
      ? existing?.secret_hash === null
      : keptHash
  if (existing && existing.content_hash === hash && sameSecret) return unchanged('Client', metadata.name, hash)
  const secretHash = managed
    ? managed.secretHash
    : secret === undefined
      ? null
      : (keptHash ?? (await hashSecret(secret)))
  return {
    kind: 'Client',
    name: metadata.name,
    action: existing ? 'updated' : 'created',
    digest: hash,
    previousDigest: existing?.content_hash ?? null,
    write: (target, now) =>
      upsertClient(
        target,
        {
          client_id: metadata.name,
          description: metadata.description ?? null,
          labels: metadata.labels ?? {},
          profile: spec.profile,
          secret_hash: secretHash,
          jwks: spec.jwks ?? null,
          grant_types: [...new Set(spec.grantTypes)],
          redirect_uris: [...new Set(spec.redirectUris)],
          post_logout_redirect_uris: [...new Set(spec.postLogoutRedirectUris)],
          agent: spec.agent,
          scopes: [...new Set(spec.scopes)],
          content_hash: hash,
          dpop_bound_access_tokens: spec.dpopBoundAccessTokens,
          approval_webhook: spec.approvalWebhook ?? null,
          disabled: spec.disabled,
        },
        now,
      ).then(stored),
  }
}
