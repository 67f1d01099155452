// A database outage fails closed: 503 + Retry-After, never a token, never active:true.
import { sql } from 'kysely'
import { afterAll, describe, expect, it } from 'vitest'
import { connect } from '../support/global-setup.ts'
import { useDatabase } from '../support/database.ts'
import { accessToken, clientCredentials, exchange, expectRejection, post } from '../support/oauth.ts'
import { useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)
const unavailable = {
  status: 503,
  error: 'temporarily_unavailable',
  error_description: 'the authorization server is temporarily unavailable, retry later',
}

describe.runIf(t.isPostgres)('when Postgres is unreachable', () => {
  const name = () => new URL(t.url as string).pathname.slice(1)
  const admin = () => connect(new URL('/postgres', t.url as string).href)

  async function cutOff(allow: boolean) {
    const db = admin()
    try {
      await sql`alter database ${sql.id(name())} with allow_connections ${sql.raw(String(allow))}`.execute(db)
      if (!allow)
        await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name()}`.execute(db)
    } finally {
      await db.destroy()
    }
  }
  afterAll(() => cutOff(true))

  it('answers 503 at the token, introspection and revocation endpoints and readiness', async () => {
    const token = await accessToken(server.url, 'agent-one')
    await cutOff(false)

    const issued = await clientCredentials(server.url, 'agent-one', { resource: 'https://tickets.test/' })
    expect(issued.headers.get('retry-after')).toBe('5')
    await expectRejection(issued, unavailable)
    await expectRejection(
      await post(`${server.url}/token/introspection`, { token }, { clientId: 'rs-tickets' }),
      unavailable,
    )
    await expectRejection(
      await post(`${server.url}/token/revocation`, { token }, { clientId: 'agent-one' }),
      unavailable,
    )
    const before = await t.db
      .selectFrom('decisions')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirst()
      .catch(() => undefined)
    expect(before).toBeUndefined() // the store is unreachable from here too
    await expectRejection(
      await exchange(server.url, 'agent-one', { subject_token: token, resource: 'https://tickets.test/' }),
      unavailable,
    )
    const ready = await fetch(`${server.managementUrl}/health/ready`)
    expect(ready.status).toBe(503)
    expect(await ready.json()).toMatchObject({ status: 'DOWN' })

    await cutOff(true)
    const introspected = await post(`${server.url}/token/introspection`, { token }, { clientId: 'rs-tickets' })
    expect(await introspected.json()).toMatchObject({ active: true })
  })
})
