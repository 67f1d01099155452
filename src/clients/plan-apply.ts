// Plans `kind: Client`: the secret is hashed (or an existing hash kept when it still matches), so
// re-applying the same document is a no-op even though every hash is salted. A secretHash (what `mandate
// export` writes) is stored as it is.
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
  const { secret, secretHash: givenHash, ...rest } = spec
  const hash = contentHash({ metadata, spec: rest })
  const keptHash =
    !managed && secret !== undefined && existing?.secret_hash && (await verifySecret(secret, existing.secret_hash))
      ? existing.secret_hash
      : undefined
  // The hash to store: the admin API's (managed), a document's secretHash (an export), or the secret's.
  const wanted = managed ? { hash: managed.secretHash } : givenHash !== undefined ? { hash: givenHash } : undefined
  const sameSecret = wanted
    ? existing?.secret_hash === wanted.hash
    : secret === undefined
      ? existing?.secret_hash === null
      : keptHash
  if (existing && existing.content_hash === hash && sameSecret) return unchanged('Client', metadata.name, hash)
  const secretHash = wanted ? wanted.hash : secret === undefined ? null : (keptHash ?? (await hashSecret(secret)))
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
