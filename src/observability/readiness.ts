// /health/ready's checks: not shutting down, the database answers with every migration applied, the clock
// agrees with the database's, a signing key is usable, and (Postgres) the key listener's connection.
import type { Database } from '../db/connect.ts'
import { migrationStatus } from '../db/migrations.ts'
import type { Listener } from '../db/notify.ts'
import { pingDatabase } from '../db/ping.ts'
import type { KeyRing } from '../keys/ring.ts'
import type { ClockCheck } from './clock-check.ts'
import type { Check } from './health.ts'

export interface ReadinessDeps {
  database: Pick<Database, 'db' | 'kind'>
  clockCheck: Pick<ClockCheck, 'check'>
  ring: Pick<KeyRing, 'problems'>
  keyListener: Pick<Listener, 'connected'>
  /** SIGTERM received: DOWN first, so load balancers stop sending before the listeners close. */
  shuttingDown: boolean
}

export async function checkReadiness(deps: ReadinessDeps): Promise<Check[]> {
  const { database, clockCheck, ring, keyListener } = deps
  const checks: Check[] = [{ name: 'shutdown', status: deps.shuttingDown ? 'DOWN' : 'UP' }]
  try {
    await pingDatabase(database.db)
    checks.push({ name: 'database', status: 'UP', data: { kind: database.kind } })
    const status = await migrationStatus(database.db)
    checks.push({
      name: 'migrations',
      status: status.pending.length === 0 ? 'UP' : 'DOWN',
      data: { applied: status.applied.length, pending: status.pending, unknown: status.unknown },
    })
  } catch (error) {
    checks.push({ name: 'database', status: 'DOWN', data: { error: (error as Error).message } })
  }
  checks.push(await clockCheck.check())
  const problems = ring.problems()
  checks.push({ name: 'signing_keys', status: problems.length === 0 ? 'UP' : 'DOWN', data: { problems } })
  if (database.kind === 'postgres') {
    checks.push({ name: 'key_listener', status: 'UP', data: { connected: keyListener.connected() } })
  }
  return checks
}
