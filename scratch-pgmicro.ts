import pg from 'pg'
import { connectDatabase } from './src/db/connect.ts'
import { migrateUp } from './src/db/migrations.ts'
import { writeIssuance, writeRefusal } from './src/token-exchange/write.ts'
import { recordIssuedToken } from './src/lineage/tokens.ts'
import { postgresCpu, postgresCpuBetween } from './bench/processes.ts'
import { issuanceWrite, placeholderSigningKey, clientCredentialsRow } from './test/support/rows.ts'
import { sql } from 'kysely'

const name = 'scratch_micro'
const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' })
await admin.connect()
await admin.query(`drop database if exists ${name}`)
await admin.query(`create database ${name}`)
const log = { warn() {}, info() {} }
const database = await connectDatabase({ databaseUrl: `postgres://postgres@127.0.0.1:5432/${name}${process.env.GENERIC ? '?options=-c%20plan_cache_mode%3Dforce_generic_plan' : ''}`, databasePoolSize: 8, dataDir: '/tmp/x' }, log)
await database.unbounded(migrateUp)
const db = database.db
await placeholderSigningKey(db, 'k')
const N = 400
async function measure(label: string, k: number, one: () => Promise<unknown>) {
  for (let i = 0; i < 50; i++) await Promise.all(Array.from({ length: k }, one))
  const before = postgresCpu([name]); const t0 = performance.now()
  for (let i = 0; i < N; i++) await Promise.all(Array.from({ length: k }, one))
  const ms = performance.now() - t0
  const cpu = postgresCpuBetween(before, postgresCpu([name]))
  console.log(label.padEnd(36), `x${k}`, (ms * 1000 / N / k).toFixed(0).padStart(5), 'µs wall/call', (cpu / N / k).toFixed(0).padStart(5), 'µs pg cpu/call')
}
const now = () => Math.floor(Date.now() / 1000)
import { groupOn } from './src/db/group.ts'
import { auditRow } from './src/audit/write.ts'
import { tokenRowJson } from './src/lineage/tokens.ts'
const AUDIT_COLUMNS = sql`occurred_at, type, actor, request_id, subject, task_id, jti, decision_id, data`
const simple = (w: ReturnType<typeof issuanceWrite>) => groupOn(db, 'simple', async (d, inputs: readonly ReturnType<typeof issuanceWrite>[]) => {
  const rows = inputs.map((x) => ({ token: tokenRowJson(x.row), decision: x.decision, audit: auditRow(x.audit) }))
  await sql`with r as (select e from jsonb_array_elements(${JSON.stringify(rows)}::jsonb) e),
    token as (insert into issued_tokens select t.* from r, jsonb_populate_record(null::issued_tokens, r.e->'token') t),
    decision as (insert into decisions select d.* from r, jsonb_populate_record(null::decisions, r.e->'decision') d)
    insert into audit_events (${AUDIT_COLUMNS}) select ${AUDIT_COLUMNS} from r, jsonb_populate_record(null::audit_events, r.e->'audit')`.execute(d)
  return inputs.map(() => undefined)
})(w)
for (const k of [1, 7]) {
  await measure('exchange write plain', k, () => writeIssuance(db, issuanceWrite('k', now())))
  await measure('simple 3 inserts', k, () => simple(issuanceWrite('k', now())))
  await measure('cc lineage insert', k, () => recordIssuedToken(db, clientCredentialsRow('k', Date.now(), Date.now() + 3600_000)))
}
await database.close()
await admin.query(`drop database ${name}`)
await admin.end()
