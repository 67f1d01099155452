// The registered entities on the admin API (issue 13): clients, resources, trusted issuers and users, each
// with its rules (entity-rules.ts), and the lock that serialises changes of one of them.
import { type Kysely, sql } from 'kysely'
import type { ClientRow } from '../clients/store.ts'
import type { DB } from '../db/schema.ts'
import type { IssuerRow } from '../issuers/store.ts'
import type { ResourceRow } from '../resources/store.ts'
import type { UserRow } from '../users/store.ts'
import { clientRules } from './client-entity.ts'
import type { KindRules } from './entity-rules.ts'
import { issuerRules } from './issuer-entity.ts'
import { resourceRules } from './resource-entity.ts'
import { userRules } from './user-entity.ts'

export const ENTITY_KINDS = ['clients', 'resources', 'issuers', 'users'] as const
export type EntityKind = (typeof ENTITY_KINDS)[number]

/** The row each kind reads. */
export interface Rows {
  clients: ClientRow
  resources: ResourceRow
  issuers: IssuerRow
  users: UserRow
}

export const KINDS: { [K in EntityKind]: KindRules<Rows[K]> } = {
  clients: clientRules,
  resources: resourceRules,
  issuers: issuerRules,
  users: userRules,
}

/** Serialises changes of one entity (also its creation, when there is no row to lock yet). */
export async function lockEntity(db: Kysely<DB>, kind: EntityKind, id: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${`mandate.entity:${kind}:${id}`}))`.execute(db)
}
