import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { migrateUp, migrationStatus } from '../../src/db/migrations.ts'
import { useDatabase } from '../support/database.ts'

const t = useDatabase()

// The hand-written row types in src/db/schema.ts, column by column (kept in step by this test).
const declared: Record<string, string> = {
  clients:
    'client_id description labels profile secret_hash jwks grant_types redirect_uris scopes content_hash created_at updated_at disabled_by_document disabled_by_cli disabled_at tokens_not_before dpop_bound_access_tokens approval_webhook agent post_logout_redirect_uris',
  resources:
    'name uri description labels scopes introspectors access_token_lifetime content_hash created_at updated_at revocation_webhook scope_descriptions',
  signing_keys: 'kid alg public_jwk private_jwk_sealed created_at activates_at',
  issued_tokens:
    'jti kid grant_type client_id sub aud scope issued_at expires_at revoked_at parent_jti ancestors claims subject_issuer subject_ref act task_id policy_path policy_version decision_id task_path actor_jti depends_on parties jkt grant_id',
  oidc_payloads: 'model id payload grant_id user_code uid expires_at consumed_at',
  tasks:
    'task_id client_id delegator delegator_issuer purpose resources scope policy_paths parent_task_id task_path created_at expires_at completed_at outcome request_id actions',
  audit_events: 'event_id occurred_at type actor request_id subject task_id jti decision_id data',
  webhook_deliveries:
    'delivery_id resource url event created_at attempts next_attempt_at delivered_at failed_at last_error',
  policy_path_versions: 'path version document content_hash created_at source_kind source source_digest reason retired',
  policy_bindings: 'client_id resource grant_type path',
  config_generation: 'singleton generation',
  issuers:
    'name issuer jwks_uri jwks algorithms audience description labels content_hash created_at updated_at tokens_without_scope login',
  decisions:
    'decision_id created_at request_id grant_type client_id subject subject_issuer subject_ref actor_chain resources requested_scope granted_scope policy_path policy_version policy_versions task_id result reason detail issued_jti constrained_by kind action object_id caller_id approval_id facts',
  approvals:
    'approval_id created_at expires_at task_id token_jti holder delegator delegator_issuer actor_chain resource object_id action status decided_at decided_by used_at decision_id used_decision_id',
  action_rates: 'rate_key tat',
  users:
    'username email display_name password_hash source content_hash disabled_by_document disabled_by_cli disabled_at tokens_not_before created_at updated_at roles',
  admin_console_sessions: 'id_hash username state code_verifier nonce created_at expires_at',
  user_identities: 'issuer upstream_sub username upstream_iss created_at last_sign_in_at',
  upstream_logins: 'state issuer interaction_uid code_verifier nonce expires_at',
}

describe('migrations', () => {
  it('leave nothing pending, and running them again is a no-op', async () => {
    expect((await migrationStatus(t.db)).pending).toEqual([])
    expect(await migrateUp(t.db)).toEqual([])
  })

  it('create exactly the columns src/db/schema.ts declares', async () => {
    const rows = await sql<{ table_name: string; column_name: string }>`
      select table_name, column_name from information_schema.columns
      where table_schema = current_schema() and table_name <> 'kysely_migration' and table_name <> 'kysely_migration_lock'
      order by table_name, ordinal_position`.execute(t.db)
    const actual: Record<string, string[]> = {}
    for (const row of rows.rows) {
      actual[row.table_name] = [...(actual[row.table_name] ?? []), row.column_name]
    }
    expect(actual).toEqual(
      Object.fromEntries(Object.entries(declared).map(([table, columns]) => [table, columns.split(' ')])),
    )
  })
})
