// What the admin API needs of each kind of registered entity (clients, resources, trusted issuers, users):
// one KindRules per kind (client-entity.ts, resource-entity.ts, issuer-entity.ts, user-entity.ts), and the
// findings a refusal carries.
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import type { Planned } from '../documents/plan.ts'

export interface Finding {
  severity: 'error'
  code: string
  message: string
  /** RFC 6901 JSON pointer into the document (the one sent, or the one that names the entity). */
  path: string
  /** The other document a finding is about ("PolicyPath acme/x"). */
  document?: string
}

export type Plain = Record<string, unknown>
export const isPlain = (value: unknown): value is Plain =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

export const finding = (code: string, message: string, path: string, document?: string): Finding => ({
  severity: 'error',
  code,
  message,
  path,
  ...(document ? { document } : {}),
})

export interface KindRules<Row> {
  kind: 'Client' | 'Resource' | 'Issuer' | 'User'
  table: 'clients' | 'resources' | 'issuers' | 'users'
  key: 'client_id' | 'name' | 'username'
  find(db: Kysely<DB>, id: string): Promise<Row | undefined>
  list(db: Kysely<DB>): Promise<Row[]>
  /** The stored entity as the document `mandate apply` reads, without any secret. */
  document(row: Row): Plain
  /** The entity tag (RFC 9110 §8.8.3): the content hash the audit trail names too. */
  etag(row: Row): string
  summary(row: Row): Plain
  /**
   * The document to validate and save: what the API refuses to carry (a secret, a password hash) as findings,
   * what a document read back leaves out (the stored secret of an upstream sign-in) filled in.
   */
  prepare(
    doc: Plain,
    stored: Row | undefined,
    options: { confidential?: boolean },
  ): { document: Plain; findings: Finding[] }
  /** The plan of `apply` for the prepared, validated document; `secret` is a client secret generated for it. */
  plan(db: Kysely<DB>, doc: Plain, stored: Row | undefined): Promise<{ planned: Planned; secret?: string }>
  /** What names the entity: while anything does, it is not deleted (409). */
  references(db: Kysely<DB>, row: Row): Promise<Finding[]>
  /** Whether this document moves the entity away from what names it (a resource's uri): refused while named. */
  moves?(row: Row, doc: Plain): boolean
  /** Once moved: ends what hung on where it was (as remove does); what was ended, for the audit event. */
  moved?(db: Kysely<DB>, row: Row, now: Date): Promise<Plain>
  /** A reason it may never be changed or deleted through the API, if any. */
  builtIn?(row: Row): string | undefined
  /** Deletes it, and ends what hung on it; what was ended, for the audit event. */
  remove(db: Kysely<DB>, row: Row, now: Date): Promise<Plain>
}
