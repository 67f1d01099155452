import pg from 'pg'
import { connectDatabase } from './src/db/connect.ts'
import { migrateUp } from './src/db/migrations.ts'
import { writeIssuance } from './src/token-exchange/write.ts'
import { issuanceWrite, placeholderSigningKey } from './test/support/rows.ts'
const name = 'scratch_explain'
const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' })
await admin.connect()
await admin.query(`drop database if exists ${name}`)
await admin.query(`create database ${name}`)
const database = await connectDatabase({ databaseUrl: `postgres://postgres@127.0.0.1:5432/${name}`, databasePoolSize: 8, dataDir: '/tmp/x' }, { warn() {}, info() {} })
await database.unbounded(migrateUp)
const db = database.db
await placeholderSigningKey(db, 'k')
const now = () => Math.floor(Date.now() / 1000)
let captured: { text: string; values: unknown[] } | undefined
const original = pg.Client.prototype.query
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const [first, second] = args as [{ text?: string; values?: unknown[] } | string, unknown[]]
  const text = typeof first === 'string' ? first : String(first.text)
  if (text.includes('issuing')) captured = { text, values: (typeof first === 'string' ? second : first.values) as unknown[] }
  return (original as (...a: unknown[]) => unknown).apply(this, args)
} as typeof original
for (let i = 0; i < 20; i++) await Promise.all(Array.from({ length: 7 }, () => writeIssuance(db, issuanceWrite('k', now()))))
pg.Client.prototype.query = original
const c = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:5432/${name}` })
await c.connect()
const requests = JSON.parse(captured!.values.find((v) => typeof v === 'string' && v.startsWith('[{"i"')) as string)
for (const r of requests) { r.token.jti = crypto.randomUUID(); r.decision.decision_id = crypto.randomUUID(); r.decision.issued_jti = r.token.jti; r.audit.jti = r.token.jti; r.audit.decision_id = r.decision.decision_id }
const values = captured!.values.map((v) => (typeof v === 'string' && v.startsWith('[{"i"') ? JSON.stringify(requests) : v))
const fresh = () => {
  for (const r of requests) { r.token.jti = crypto.randomUUID(); r.decision.decision_id = crypto.randomUUID(); r.decision.issued_jti = r.token.jti; r.audit.jti = r.token.jti; r.audit.decision_id = r.decision.decision_id }
  return captured!.values.map((v) => (typeof v === 'string' && v.startsWith('[{"i"') ? JSON.stringify(requests) : v))
}
for (const mode of ['auto', 'force_generic_plan', 'auto']) {
  await c.query(`set plan_cache_mode = ${mode}`)
  const stmt = `s_${mode}_${Math.random().toString(36).slice(2)}`
  const times: number[] = []
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now()
    await c.query({ name: stmt, text: captured!.text, values: fresh() })
    times.push(performance.now() - t0)
  }
  console.log(mode, 'first 6:', times.slice(0, 6).map((t) => t.toFixed(1)).join(' '), '| last 10 avg:', (times.slice(-10).reduce((a, b) => a + b) / 10).toFixed(2), 'ms')
}
await c.end()
await database.close()
await admin.query(`drop database ${name}`)
await admin.end()
