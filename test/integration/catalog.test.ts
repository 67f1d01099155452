// The configuration in memory (src/catalog/): every process keeps it per generation and reads the
// generation with each request, so a narrowing change made anywhere — a client disabled, a scope taken
// out of a policy path, a resource removed from an introspector — is in force on every process when the
// change returns, with no stale window. The second "process" here is a second app on the same database,
// with its own catalog, as another `mandate serve` would be.
import type { AddressInfo } from 'node:net'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, createApp } from '../../src/app.ts'
import { setDisabledBy } from '../../src/clients/store.ts'
import { loadConfig } from '../../src/config/load.ts'
import { createHttpServer } from '../../src/http/listen.ts'
import { createLog } from '../../src/observability/log.ts'
import { applyPath } from '../support/apply-path.ts'
import { useDatabase } from '../support/database.ts'
import { personToken } from '../support/idp.ts'
import { accessToken, clientCredentials, exchange, exchanged, introspect } from '../support/oauth.ts'
import { TEST_MASTER_KEY, useServer } from '../support/server.ts'

const t = useDatabase()
const one = useServer(t)
const tickets = 'https://tickets.test/'

/** A second process: its own app (and catalog) on the same database and issuer, on its own port. */
let other: { app: App; url: string; close(): Promise<void> }
beforeAll(async () => {
  const config = loadConfig({
    MANDATE_ISSUER: one.issuer,
    MANDATE_MASTER_KEY: TEST_MASTER_KEY,
    MANDATE_MIGRATE: 'off',
    MANDATE_LOG_LEVEL: 'silent',
    MANDATE_JANITOR__INTERVAL: '0s',
  })
  const app = await createApp(config, { database: t.database, log: createLog('silent') })
  const server = createHttpServer(app.public.callback())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  other = {
    app,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await app.close()
    },
  }
})
afterAll(() => other.close())

const generation = async () =>
  Number(
    (await sql<{ generation: string }>`select generation from config_generation`.execute(t.db)).rows[0]?.generation,
  )

describe('the configuration in memory', () => {
  it('moves the generation with every change of what decides requests, and with nothing else', async () => {
    const before = await generation()
    await setDisabledBy(t.db, 'agent-two', { cli: true })
    expect(await generation()).toBe(before + 1)
    await setDisabledBy(t.db, 'agent-two', { cli: false })
    // Issuing tokens writes lineage and decisions, never the configuration.
    await exchanged(one.url, 'agent-one', { subject_token: await personToken(), resource: tickets })
    expect(await generation()).toBe(before + 2)
  })

  it('refuses a client on every process as soon as it is disabled elsewhere', async () => {
    // Both processes have the client in memory.
    expect((await clientCredentials(other.url, 'alice', { resource: tickets })).status).toBe(200)
    expect((await clientCredentials(one.url, 'alice', { resource: tickets })).status).toBe(200)
    await setDisabledBy(t.db, 'alice', { cli: true })
    const refused = await clientCredentials(other.url, 'alice', { resource: tickets })
    expect({ status: refused.status, body: await refused.json() }).toEqual({
      status: 401,
      body: { error: 'invalid_client', error_description: 'client authentication failed' },
    })
    await setDisabledBy(t.db, 'alice', { cli: false })
    expect((await clientCredentials(other.url, 'alice', { resource: tickets })).status).toBe(200)
  })

  it('narrows exchanges on every process as soon as a narrowing policy is applied', async () => {
    const subject = await accessToken(one.url, 'alice-app', { scope: 'tickets:read tickets:write' })
    const ask = (url: string) =>
      exchange(url, 'agent-one', { subject_token: subject, resource: tickets, scope: 'tickets:write' })
    expect((await ask(other.url)).status).toBe(200)
    // The support level stops allowing tickets:write (applied as by another process's `mandate apply`).
    await applyPath(t.db, 'acme/support', '  scopes: [tickets:read, notes:read]\n')
    const refused = await ask(other.url)
    expect({ status: refused.status, body: await refused.json() }).toEqual({
      status: 400,
      body: { error: 'invalid_scope', error_description: 'the requested scope is not allowed' },
    })
    await applyPath(t.db, 'acme/support', '  scopes: [tickets:read, tickets:write, notes:read]\n')
    expect((await ask(other.url)).status).toBe(200)
  })

  it('tells an introspector nothing on every process once its resource no longer names it', async () => {
    const token = await accessToken(one.url, 'agent-one', { resource: tickets })
    expect(await introspect(other.url, token)).toMatchObject({ active: true })
    const [row] = (
      await sql<{ introspectors: string[] }>`select introspectors from resources where uri = ${tickets}`.execute(t.db)
    ).rows
    await sql`update resources set introspectors = '{}' where uri = ${tickets}`.execute(t.db)
    expect(await introspect(other.url, token)).toEqual({ active: false })
    await sql`update resources set introspectors = ${row?.introspectors ?? []} where uri = ${tickets}`.execute(t.db)
    expect(await introspect(other.url, token)).toMatchObject({ active: true })
  })
})
