// Disabling a client (spec.disabled, or `mandate client disable`) refuses its authentication and ends,
// at read time, every token it holds or acts in, on every process at once; enabling it again does not
// bring those tokens back. And client assertions are single-use under concurrency.
import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import { beforeAll, describe, expect, it } from 'vitest'
import { setDisabledBy } from '../../src/clients/store.ts'
import { findActiveToken } from '../../src/lineage/tokens.ts'
import { applyDocuments } from '../../src/manifests/apply.ts'
import { TOKEN_INVALID } from '../../src/oauth/descriptions.ts'
import { clientAssertion, JWT_BEARER, taskBodyWithAssertion } from '../support/client-assertion.ts'
import { rowCount, useDatabase } from '../support/database.ts'
import { personToken } from '../support/idp.ts'
import {
  ACCESS_TOKEN,
  clientCredentials,
  exchange,
  exchanged,
  expectRejection,
  introspect,
  jtiOf,
  post,
  TOKEN_EXCHANGE,
} from '../support/oauth.ts'
import { TEST_APPLY, TEST_MASTER_KEY, useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)
// A second process on the same database: replay protection and disabling must hold across both.
const second = useServer(t)
const tickets = 'https://tickets.test/'
const invalidClient = { status: 401, error: 'invalid_client', error_description: 'client authentication failed' }
const secret = 'switch-agent-secret-0123456'

const agentDocument = (
  disabled: boolean,
  description = 'an agent that is switched off and on',
) => `apiVersion: mandate/v1
kind: Client
metadata: { name: switch-agent, description: ${description} }
spec:
  profile: agent
  secret: ${secret}
  grantTypes: [client_credentials, ${TOKEN_EXCHANGE}]
  scopes: [tickets:read, tickets:write]
  disabled: ${disabled}
---
apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: acme/support/switch-agent }
spec:
  bindings: [{ client: switch-agent, resource: ${tickets}, grantType: ${TOKEN_EXCHANGE} }]
  delegation: { actors: [switch-agent, sub-agent] }
`
async function applyAgent(disabled: boolean, description?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-disable-'))
  writeFileSync(join(dir, 'agent.yaml'), agentDocument(disabled, description))
  expect((await applyDocuments(t.db, [dir], TEST_APPLY)).findings).toEqual([])
}
// sub-agent's path lists its actors; switch-agent must be one for sub-agent to work from its tokens.
async function letSubAgentTakeOver() {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-disable-sub-'))
  writeFileSync(
    join(dir, 'sub.yaml'),
    `apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: acme/support/sub-agent }
spec:
  bindings:
    - { client: sub-agent, resource: ${tickets}, grantType: ${TOKEN_EXCHANGE} }
  scopes: [tickets:read]
  delegation: { actors: [agent-one, sub-agent, sub-sub-agent, switch-agent] }
`,
  )
  expect((await applyDocuments(t.db, [dir], TEST_APPLY)).findings).toEqual([])
}

const asSwitch = { clientId: 'switch-agent', secret }
/**
 * Tokens issued in the second a client was disabled stay inactive (times are whole seconds, and a
 * token issued milliseconds before the disable must not survive it): wait for the next second.
 */
const nextSecond = () => new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 5))
const tokensOf = async () => {
  const ownResponse = await clientCredentials(server.url, 'switch-agent', { resource: tickets }, secret)
  const held = ((await ownResponse.json()) as { access_token: string }).access_token
  const acting = (await (
    await post(
      `${server.url}/token`,
      {
        grant_type: TOKEN_EXCHANGE,
        subject_token: await personToken({ scope: 'tickets:read' }),
        subject_token_type: ACCESS_TOKEN,
        resource: tickets,
      },
      asSwitch,
    )
  ).json()) as { access_token: string }
  // A sub-agent works from switch-agent's token: switch-agent is a party of that token too.
  const downstream = await exchanged(server.url, 'sub-agent', { subject_token: acting.access_token, resource: tickets })
  return { held, acting: acting.access_token, downstream }
}

beforeAll(async () => {
  await applyAgent(false)
  await letSubAgentTakeOver()
})

describe('a disabled client', () => {
  it('cannot authenticate, and no token it holds or acts in is active; enabling it does not revive them', async () => {
    const { held, acting, downstream } = await tokensOf()
    for (const token of [held, acting, downstream])
      expect(await introspect(server.url, token)).toMatchObject({ active: true })
    const unrelated = await exchanged(server.url, 'agent-one', {
      subject_token: await personToken(),
      resource: tickets,
    })

    await applyAgent(true)
    const before = await rowCount(t.db, 'issued_tokens')
    await expectRejection(
      await clientCredentials(server.url, 'switch-agent', { resource: tickets }, secret),
      invalidClient,
    )
    await expectRejection(
      await post(
        `${server.url}/tasks`,
        { subject_token: await personToken(), subject_token_type: ACCESS_TOKEN, purpose: 'p', resource: tickets },
        asSwitch,
      ),
      invalidClient,
    )
    const after = await rowCount(t.db, 'issued_tokens')
    expect(after).toBe(before)
    for (const token of [held, acting, downstream])
      expect(await introspect(server.url, token)).toEqual({ active: false })
    // ... on the other process too, and its tokens can no longer be exchanged.
    expect(await introspect(second.url, held)).toEqual({ active: false })
    await expectRejection(await exchange(server.url, 'sub-agent', { subject_token: acting, resource: tickets }), {
      status: 400,
      error: 'invalid_request',
      error_description: TOKEN_INVALID,
    })
    expect(await introspect(server.url, unrelated)).toMatchObject({ active: true })

    await applyAgent(false)
    await nextSecond()
    const fresh = await clientCredentials(server.url, 'switch-agent', { resource: tickets }, secret)
    expect(fresh.status).toBe(200)
    const { access_token } = (await fresh.json()) as { access_token: string }
    expect(await introspect(server.url, access_token)).toMatchObject({ active: true })
    for (const token of [held, acting, downstream])
      expect(await introspect(server.url, token)).toEqual({ active: false })
  })
})

describe.runIf(t.isPostgres)('mandate client disable', () => {
  const cli = new URL('../../src/cli/main.ts', import.meta.url).pathname
  const mandate = (...args: string[]) =>
    promisify(execFile)(process.execPath, [cli, ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        MANDATE_DATABASE_URL: t.url as string,
        MANDATE_MASTER_KEY: TEST_MASTER_KEY,
        MANDATE_ISSUER: server.issuer,
        MANDATE_LOG_LEVEL: 'warn',
      },
    })

  it('takes effect at once on a running server, outlives a changed document, and is undone only by enable', async () => {
    await nextSecond()
    const { held, downstream } = await tokensOf()
    expect((await mandate('client', 'disable', 'switch-agent')).stdout).toBe('client switch-agent disabled\n')
    for (const token of [held, downstream]) expect(await introspect(server.url, token)).toEqual({ active: false })
    await expectRejection(
      await clientCredentials(server.url, 'switch-agent', { resource: tickets }, secret),
      invalidClient,
    )
    // A changed document that says enabled does not undo a CLI disable: only `mandate client enable` does.
    await applyAgent(false, 'changed while disabled')
    await expectRejection(
      await clientCredentials(server.url, 'switch-agent', { resource: tickets }, secret),
      invalidClient,
    )
    const audit = await t.db
      .selectFrom('audit_events')
      .select(['type', 'actor', 'data'])
      .where('type', '=', 'client.disabled')
      .execute()
    expect(audit).toEqual([
      {
        type: 'client.disabled',
        actor: expect.stringMatching(/^cli/),
        data: { client_id: 'switch-agent', disabled: true, by_document: false },
      },
    ])

    expect((await mandate('client', 'enable', 'switch-agent')).stdout).toBe('client switch-agent enabled\n')
    await nextSecond()
    expect((await clientCredentials(server.url, 'switch-agent', { resource: tickets }, secret)).status).toBe(200)
    expect(await introspect(server.url, held)).toEqual({ active: false })
    await expect(mandate('client', 'disable', 'no-such-client')).rejects.toMatchObject({
      code: 1,
      stderr: 'client no-such-client not found\n',
    })
  })

  it('cannot enable a client its document disables', async () => {
    await applyAgent(true)
    expect((await mandate('client', 'enable', 'switch-agent')).stdout).toBe(
      'client switch-agent stays disabled: its document says disabled: true\n',
    )
    await expectRejection(
      await clientCredentials(server.url, 'switch-agent', { resource: tickets }, secret),
      invalidClient,
    )
    await applyAgent(false)
    await nextSecond()
    expect((await clientCredentials(server.url, 'switch-agent', { resource: tickets }, secret)).status).toBe(200)
  })
})

describe('a disabled administrator', () => {
  it('loses the admin API at once, and its admin token stays refused once enabled again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-disable-admin-'))
    writeFileSync(
      join(dir, 'admin.yaml'),
      `apiVersion: mandate/v1
kind: Client
metadata: { name: switch-admin }
spec: { profile: service, secret: switch-admin-secret-0123456, grantTypes: [client_credentials], scopes: [mandate:admin] }
`,
    )
    expect((await applyDocuments(t.db, [dir], TEST_APPLY)).findings).toEqual([])
    const issued = await clientCredentials(
      server.url,
      'switch-admin',
      { resource: 'urn:mandate:admin', scope: 'mandate:admin' },
      'switch-admin-secret-0123456',
    )
    const { access_token: admin } = (await issued.json()) as { access_token: string }
    const audit = () => fetch(`${server.adminUrl}/admin/v1/audit`, { headers: { authorization: `Bearer ${admin}` } })
    expect((await audit()).status).toBe(200)
    await setDisabledBy(t.db, 'switch-admin', { cli: true })
    const refused = await audit()
    expect({ status: refused.status, body: await refused.json() }).toEqual({
      status: 401,
      body: { error: 'invalid_token', error_description: 'admin authentication is required' },
    })
    await setDisabledBy(t.db, 'switch-admin', { cli: false })
    expect((await audit()).status).toBe(401)
  })
})

describe.runIf(t.isPostgres)('a token written while its client was disabled', () => {
  it('stays inactive once the client is enabled again (an exchange in flight across the disable)', async () => {
    await nextSecond()
    const { held } = await tokensOf()
    await setDisabledBy(t.db, 'switch-agent', { cli: true })
    // An exchange that authenticated before the disable commits its row a little later, while disabled.
    const late = `late-${randomUUID()}`
    await sql`insert into issued_tokens (jti, kid, grant_type, client_id, sub, aud, scope, issued_at, expires_at, parties)
      select ${late}, kid, grant_type, client_id, sub, aud, scope, now() + interval '2 seconds', expires_at, parties
      from issued_tokens where jti = ${jtiOf(held)}`.execute(t.db)
    const now = () => new Date(Date.now() + 3000)
    expect(await findActiveToken(t.db, late, now())).toBeUndefined()
    await new Promise((resolve) => setTimeout(resolve, 2500))
    await setDisabledBy(t.db, 'switch-agent', { cli: false })
    expect(await findActiveToken(t.db, late, now())).toBeUndefined()
  })
})

describe('a client assertion (private_key_jwt)', () => {
  it('is spent once, even when sent 8 times at once to the token endpoint of two processes', async () => {
    // The assertion's audience is the token endpoint URL, the same path on both processes.
    const assertion = await clientAssertion(server.issuer)
    const before = await rowCount(t.db, 'issued_tokens')
    const statuses = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        post(`${i % 2 === 0 ? server.url : second.url}/token`, {
          grant_type: 'client_credentials',
          resource: tickets,
          client_assertion_type: JWT_BEARER,
          client_assertion: assertion,
        }).then((response) => response.status),
      ),
    )
    expect(statuses.sort()).toEqual([200, 401, 401, 401, 401, 401, 401, 401])
    const after = await rowCount(t.db, 'issued_tokens')
    expect(after).toBe(before + 1)
  })

  it('is spent once, even when sent 8 times at once to the tasks API', async () => {
    const assertion = await clientAssertion(server.issuer)
    const bodies = await Promise.all(Array.from({ length: 8 }, () => taskBodyWithAssertion(assertion)))
    const statuses = await Promise.all(
      bodies.map((body) => post(`${server.url}/tasks`, body).then((response) => response.status)),
    )
    expect(statuses.sort()).toEqual([201, 401, 401, 401, 401, 401, 401, 401])
  })
})
