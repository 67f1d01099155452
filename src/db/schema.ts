// Row types of the tables in migrations/ (the SQL is the source of truth). Property names equal
// column names. test/integration/migrations.test.ts fails when these drift from the database.
import type { ColumnType, Generated } from 'kysely'

type Timestamp = ColumnType<Date, Date | string, Date | string>
type Json = ColumnType<unknown, string, string>
type DefaultedJson = ColumnType<unknown, string | undefined, string>
type DefaultedTimestamp = ColumnType<Date, Date | string | undefined, Date | string>
type DefaultedArray = ColumnType<string[], string[] | undefined, string[]>

export interface ClientsTable {
  client_id: string
  description: string | null
  labels: DefaultedJson
  profile: string
  secret_hash: string | null
  jwks: Json | null
  grant_types: DefaultedArray
  redirect_uris: DefaultedArray
  scopes: DefaultedArray
  content_hash: string
  created_at: DefaultedTimestamp
  updated_at: DefaultedTimestamp
  disabled_by_document: ColumnType<boolean, boolean | undefined, boolean>
  disabled_by_cli: ColumnType<boolean, boolean | undefined, boolean>
  disabled_at: Timestamp | null
  tokens_not_before: Timestamp | null
  dpop_bound_access_tokens: ColumnType<boolean, boolean | undefined, boolean>
  approval_webhook: string | null
  agent: ColumnType<boolean, boolean | undefined, boolean>
  post_logout_redirect_uris: DefaultedArray
}

export interface ResourcesTable {
  name: string
  uri: string
  description: string | null
  labels: DefaultedJson
  scopes: DefaultedArray
  introspectors: DefaultedArray
  access_token_lifetime: number
  content_hash: string
  created_at: DefaultedTimestamp
  updated_at: DefaultedTimestamp
  revocation_webhook: string | null
  /** {scope: description}, for the consent page. */
  scope_descriptions: DefaultedJson
}

export interface SigningKeysTable {
  kid: string
  alg: string
  public_jwk: Json
  private_jwk_sealed: string
  created_at: DefaultedTimestamp
  activates_at: Timestamp
}

export interface IssuedTokensTable {
  jti: string
  kid: string
  grant_type: string
  client_id: string
  sub: string
  aud: string[]
  scope: DefaultedArray
  issued_at: Timestamp
  expires_at: Timestamp
  revoked_at: Timestamp | null
  parent_jti: string | null
  ancestors: DefaultedArray
  claims: DefaultedJson
  subject_issuer: string | null
  subject_ref: string | null
  act: Json | null
  task_id: string | null
  policy_path: string | null
  policy_version: number | null
  decision_id: string | null
  task_path: DefaultedArray
  actor_jti: string | null
  /** Besides ancestors, every jti whose revocation ends this token (actor tokens and their chains). */
  depends_on: DefaultedArray
  /** Every client whose disabling ends this token (its holder, its actors, earlier holders). */
  parties: DefaultedArray
  /** RFC 9449 §6.1 cnf.jkt of a DPoP-bound token. */
  jkt: string | null
  /** The oidc-provider grant of an authorization_code or refresh_token token (its refresh family). */
  grant_id: string | null
}

export interface TasksTable {
  task_id: string
  client_id: string
  delegator: string
  delegator_issuer: string
  purpose: string
  resources: string[]
  scope: string[]
  policy_paths: string[]
  parent_task_id: string | null
  task_path: string[]
  created_at: Timestamp
  expires_at: Timestamp
  completed_at: Timestamp | null
  outcome: string | null
  request_id: string | null
  actions: string[] | null
}

export interface AuditEventsTable {
  event_id: Generated<string>
  occurred_at: Timestamp
  type: string
  actor: string | null
  request_id: string | null
  subject: string | null
  task_id: string | null
  jti: string | null
  decision_id: string | null
  data: DefaultedJson
}

export interface WebhookDeliveriesTable {
  delivery_id: string
  resource: string
  url: string
  event: string
  created_at: Timestamp
  attempts: ColumnType<number, number | undefined, number>
  next_attempt_at: Timestamp
  delivered_at: Timestamp | null
  failed_at: Timestamp | null
  last_error: string | null
}

export interface PolicyPathVersionsTable {
  path: string
  version: number
  document: Json
  content_hash: string
  created_at: DefaultedTimestamp
  /** Where this version came from (migration 0011); null on versions written before it. */
  source_kind: 'file' | 'admin' | 'prune' | null
  source: string | null
  source_digest: string | null
  reason: string | null
  retired: ColumnType<boolean, boolean | undefined, boolean>
}

export interface PolicyBindingsTable {
  client_id: string
  resource: string
  grant_type: string
  path: string
}

export interface IssuersTable {
  name: string
  issuer: string
  jwks_uri: string | null
  jwks: Json | null
  algorithms: string[]
  audience: string | null
  description: string | null
  labels: DefaultedJson
  content_hash: string
  created_at: DefaultedTimestamp
  updated_at: DefaultedTimestamp
  tokens_without_scope: ColumnType<
    'none' | 'policyCeiling',
    'none' | 'policyCeiling' | undefined,
    'none' | 'policyCeiling'
  >
  /** Upstream sign-in: {clientId, clientSecret, scopes}. */
  login: ColumnType<unknown, string | null | undefined, string | null>
}

export interface DecisionsTable {
  decision_id: string
  created_at: Timestamp
  request_id: string | null
  grant_type: string | null
  client_id: string | null
  subject: string | null
  subject_issuer: string | null
  subject_ref: string | null
  actor_chain: DefaultedArray
  resources: DefaultedArray
  requested_scope: string[] | null
  granted_scope: string[] | null
  policy_path: string | null
  policy_version: number | null
  policy_versions: Json | null
  task_id: string | null
  result: string
  reason: string
  detail: string | null
  issued_jti: string | null
  constrained_by: Json | null
  kind: Generated<string>
  action: string | null
  object_id: string | null
  caller_id: string | null
  approval_id: string | null
  facts: Json | null
}

export interface ApprovalsTable {
  approval_id: string
  created_at: Timestamp
  expires_at: Timestamp
  task_id: string | null
  token_jti: string
  holder: string
  delegator: string
  delegator_issuer: string
  actor_chain: DefaultedArray
  resource: string
  object_id: Generated<string>
  action: string
  status: Generated<string>
  decided_at: Timestamp | null
  decided_by: string | null
  used_at: Timestamp | null
  decision_id: string
  used_decision_id: string | null
}

export interface ActionRatesTable {
  rate_key: string
  tat: Timestamp
}

export interface OidcPayloadsTable {
  model: string
  id: string
  payload: Json
  grant_id: string | null
  user_code: string | null
  uid: string | null
  expires_at: Timestamp | null
  consumed_at: Timestamp | null
}

export interface UsersTable {
  username: string
  email: string | null
  display_name: string | null
  password_hash: string | null
  source: ColumnType<'document' | 'upstream', 'document' | 'upstream' | undefined, 'document' | 'upstream'>
  content_hash: string | null
  disabled_by_document: ColumnType<boolean, boolean | undefined, boolean>
  disabled_by_cli: ColumnType<boolean, boolean | undefined, boolean>
  disabled_at: Timestamp | null
  tokens_not_before: Timestamp | null
  created_at: DefaultedTimestamp
  updated_at: DefaultedTimestamp
  roles: ColumnType<string[], string[] | undefined, string[]>
}

export interface AdminConsoleSessionsTable {
  /** SHA-256 (base64url) of the cookie value. */
  id_hash: string
  /** Null while the sign-in is in flight. */
  username: string | null
  state: string | null
  code_verifier: string | null
  nonce: string | null
  created_at: DefaultedTimestamp
  expires_at: Timestamp
}

export interface UserIdentitiesTable {
  /** The Issuer document's name. */
  issuer: string
  upstream_sub: string
  username: string
  upstream_iss: string
  created_at: DefaultedTimestamp
  last_sign_in_at: DefaultedTimestamp
}

export interface UpstreamLoginsTable {
  state: string
  issuer: string
  interaction_uid: string
  code_verifier: string
  nonce: string
  expires_at: Timestamp
}

export interface KyselyMigrationTable {
  name: string
  timestamp: string
}

export interface ConfigGenerationTable {
  singleton: Generated<boolean>
  /** bigint: pg returns it as text. */
  generation: ColumnType<string, never, never>
}

export interface DB {
  clients: ClientsTable
  resources: ResourcesTable
  signing_keys: SigningKeysTable
  issued_tokens: IssuedTokensTable
  oidc_payloads: OidcPayloadsTable
  policy_path_versions: PolicyPathVersionsTable
  policy_bindings: PolicyBindingsTable
  issuers: IssuersTable
  decisions: DecisionsTable
  tasks: TasksTable
  approvals: ApprovalsTable
  action_rates: ActionRatesTable
  audit_events: AuditEventsTable
  webhook_deliveries: WebhookDeliveriesTable
  config_generation: ConfigGenerationTable
  users: UsersTable
  admin_console_sessions: AdminConsoleSessionsTable
  user_identities: UserIdentitiesTable
  upstream_logins: UpstreamLoginsTable
  kysely_migration: KyselyMigrationTable
}
