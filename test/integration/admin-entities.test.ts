// Clients, resources, issuers and users through the admin API (issue 13): registered without files, checked as
// `mandate apply` checks them, against the version read (If-Match), with a reason, audited; a generated client
// secret shown once; every change in force on another process at once; every refusal writes nothing.
import { sql } from 'kysely'
import { beforeAll, describe, expect, it } from 'vitest'
import { findActiveToken } from '../../src/lineage/tokens.ts'
import { hashPassword } from '../../src/users/password.ts'
import { useDatabase } from '../support/database.ts'
import { accessToken, clientCredentials, jtiOf } from '../support/oauth.ts'
import { useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)
// A second process on the same database: what the API changes must be in force there from its next request.
const second = useServer(t, { apply: [] })
let token: string
const OTHER = 'https://other.test/api'

beforeAll(async () => {
  token = await accessToken(server.url, 'mandate-admin', { resource: 'urn:mandate:admin', scope: 'mandate:admin' })
})

interface Call {
  body?: unknown
  raw?: string
  ifMatch?: string
  auth?: boolean
}

function api(method: string, path: string, call: Call = {}): Promise<Response> {
  const headers: Record<string, string> = {}
  if (call.auth !== false) headers.authorization = `Bearer ${token}`
  if (call.body !== undefined || call.raw !== undefined) headers['content-type'] = 'application/json'
  if (call.ifMatch) headers['if-match'] = call.ifMatch
  const body = call.raw ?? (call.body === undefined ? undefined : JSON.stringify(call.body))
  return fetch(`${server.adminUrl}/admin/v1/${path}`, { method, headers, ...(body === undefined ? {} : { body }) })
}

async function expectProblem(response: Response, status: number, title: string) {
  expect(response.status).toBe(status)
  expect(response.headers.get('content-type')).toContain('application/problem+json')
  const body = (await response.json()) as { title: string; findings?: Array<Record<string, unknown>> }
  expect(body).toMatchObject({ type: 'about:blank', title, status })
  return body
}

/** Everything a change could write: audit events, the configuration generation, and the rows of each kind. */
async function written() {
  const { rows } = await sql<Record<string, string>>`select
      (select count(*) from audit_events)::text as audit,
      (select generation from config_generation)::text as generation,
      (select md5(coalesce(string_agg(c::text, ',' order by client_id), '')) from clients c) as clients,
      (select md5(coalesce(string_agg(r::text, ',' order by name), '')) from resources r) as resources,
      (select md5(coalesce(string_agg(i::text, ',' order by name), '')) from issuers i) as issuers,
      (select md5(coalesce(string_agg(u::text, ',' order by username), '')) from users u) as users,
      (select count(*) from issued_tokens where revoked_at is not null)::text as revoked`.execute(t.db)
  return rows[0]
}

const audit = async (type: string) =>
  (
    await sql<{ actor: string; data: Record<string, unknown> }>`select actor, data from audit_events
      where type = ${type} order by occurred_at`.execute(t.db)
  ).rows

/** Among the events of this type, one the admin API's client recorded with this data (a value or a matcher). */
const expectAudited = async (type: string, data: unknown) =>
  expect(await audit(type)).toContainEqual({ actor: 'admin:mandate-admin', data })

const client = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'mandate/v1',
  kind: 'Client',
  metadata: { name, description: 'a SaaS integration' },
  spec: { profile: 'service', ...spec },
})

const etagOf = async (path: string) => {
  const response = await api('GET', path)
  expect(response.status).toBe(200)
  return response.headers.get('etag') as string
}

describe('clients', () => {
  let secret: string
  let etag: string

  it('creates a confidential client with a secret Mandate generates, shown once, that works at /token at once', async () => {
    const generation = (await written())?.generation
    const response = await api('PUT', 'clients/saas-one', {
      body: {
        document: client('saas-one', { grantTypes: ['client_credentials'], scopes: ['other:read'] }),
        reason: 'CRM sync',
      },
    })
    expect(response.status).toBe(201)
    const body = (await response.json()) as Record<string, unknown>
    expect(body).toMatchObject({ kind: 'clients', id: 'saas-one', changed: true, changes: [] })
    secret = body.client_secret as string
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/)
    etag = response.headers.get('etag') as string
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/)
    expect((await written())?.generation).not.toBe(generation)

    // Only a hash is stored; the other process authenticates the client from its next request.
    const row = await t.db
      .selectFrom('clients')
      .selectAll()
      .where('client_id', '=', 'saas-one')
      .executeTakeFirstOrThrow()
    expect(row.secret_hash).toMatch(/^scrypt\$/)
    expect(row.secret_hash).not.toContain(secret)
    const issued = await clientCredentials(second.url, 'saas-one', { resource: OTHER, scope: 'other:read' }, secret)
    expect(issued.status).toBe(200)

    await expectAudited(
      'document.created',
      expect.objectContaining({
        kind: 'Client',
        name: 'saas-one',
        reason: 'CRM sync',
        source: 'admin-api',
        digest: etag.slice(1, -1),
        previous_digest: null,
      }),
    )
    expect(JSON.stringify(await audit('document.created'))).not.toContain(secret)
  })

  it('reads the client back as its document, with its ETag, and never its secret', async () => {
    const response = await api('GET', 'clients/saas-one')
    expect(response.headers.get('etag')).toBe(etag)
    const text = await response.text()
    expect(text).not.toContain(secret)
    expect(text).not.toContain('scrypt')
    expect(JSON.parse(text)).toEqual({
      apiVersion: 'mandate/v1',
      kind: 'Client',
      metadata: { name: 'saas-one', description: 'a SaaS integration' },
      spec: {
        profile: 'service',
        grantTypes: ['client_credentials'],
        redirectUris: [],
        postLogoutRedirectUris: [],
        agent: false,
        scopes: ['other:read'],
        disabled: false,
        dpopBoundAccessTokens: false,
      },
    })
    const list = (await (await api('GET', 'clients')).json()) as { clients: Array<Record<string, unknown>> }
    expect(list.clients).toContainEqual(
      expect.objectContaining({ client_id: 'saas-one', authentication: 'client_secret', disabled: false }),
    )
    expect(JSON.stringify(list)).not.toContain('scrypt')
  })

  it('replaces the document with If-Match: the change is audited in words and in force on another process at once', async () => {
    const doc = client('saas-one', { grantTypes: ['client_credentials'], scopes: ['other:read', 'other:write'] })
    const response = await api('PUT', 'clients/saas-one', {
      body: { document: doc, reason: 'needs writes' },
      ifMatch: etag,
    })
    expect(response.status).toBe(200)
    const body = (await response.json()) as Record<string, unknown>
    expect(body).toEqual({ kind: 'clients', id: 'saas-one', changed: true, changes: ['adds spec.scopes other:write'] })
    const next = response.headers.get('etag') as string
    expect(next).not.toBe(etag)
    etag = next
    // The secret is kept (never shown again), and the new scope is granted by the other process right away.
    const issued = await clientCredentials(second.url, 'saas-one', { resource: OTHER, scope: 'other:write' }, secret)
    expect(issued.status).toBe(200)
    await expectAudited(
      'document.updated',
      expect.objectContaining({
        kind: 'Client',
        name: 'saas-one',
        reason: 'needs writes',
        changes: ['adds spec.scopes other:write'],
        digest: etag.slice(1, -1),
        source: 'admin-api',
      }),
    )
    // The same document again changes nothing and writes nothing.
    const before = await written()
    const again = await api('PUT', 'clients/saas-one', { body: { document: doc, reason: 'again' }, ifMatch: etag })
    expect(again.status).toBe(200)
    expect(await again.json()).toMatchObject({ changed: false, changes: [] })
    expect(await written()).toEqual(before)
  })

  it('refuses, writing nothing: 401, 400 malformed or without a reason, 422 with findings, 428, 412', async () => {
    const before = await written()
    const doc = client('saas-one', { grantTypes: ['client_credentials'], scopes: ['other:read'] })
    const unauthenticated = await api('PUT', 'clients/saas-one', { body: { document: doc, reason: 'r' }, auth: false })
    expect(unauthenticated.status).toBe(401)
    expect(await unauthenticated.json()).toMatchObject({ error: 'invalid_token' })
    await expectProblem(
      await api('PUT', 'clients/saas-one', { raw: '{"document":', ifMatch: etag }),
      400,
      'Bad request',
    )
    await expectProblem(await api('PUT', 'clients/saas-one', { raw: '[1]', ifMatch: etag }), 400, 'Bad request')
    await expectProblem(
      await api('PUT', 'clients/saas-one', { body: { document: doc }, ifMatch: etag }),
      400,
      'Bad request',
    )
    await expectProblem(
      await api('PUT', 'clients/saas-one', { body: { document: 'yaml?', reason: 'r' }, ifMatch: etag }),
      400,
      'Bad request',
    )
    const invalid = await expectProblem(
      await api('PUT', 'clients/saas-one', {
        body: { document: client('saas-one', { grantTypes: ['password'], scopes: ['other:read'] }), reason: 'r' },
        ifMatch: etag,
      }),
      422,
      'Invalid document',
    )
    expect(invalid.findings).toEqual([
      expect.objectContaining({
        severity: 'error',
        code: 'schema',
        path: '/spec/grantTypes/0',
        line: expect.any(Number),
        column: expect.any(Number),
      }),
    ])
    const chosen = await expectProblem(
      await api('PUT', 'clients/saas-one', {
        body: {
          document: client('saas-one', { grantTypes: ['client_credentials'], secret: 'my-own-secret-0123456789' }),
          reason: 'r',
        },
        ifMatch: etag,
      }),
      422,
      'Invalid document',
    )
    expect(chosen.findings).toEqual([expect.objectContaining({ code: 'secret_generated', path: '/spec/secret' })])
    const hashed = await expectProblem(
      await api('PUT', 'clients/saas-one', {
        body: {
          document: client('saas-one', {
            grantTypes: ['client_credentials'],
            secretHash: 'scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g',
          }),
          reason: 'r',
        },
        ifMatch: etag,
      }),
      422,
      'Invalid document',
    )
    expect(hashed.findings).toEqual(
      expect.arrayContaining([expect.objectContaining({ code: 'secret_generated', path: '/spec/secretHash' })]),
    )
    const misnamed = await expectProblem(
      await api('PUT', 'clients/saas-two', { body: { document: doc, reason: 'r' } }),
      422,
      'Invalid document',
    )
    expect(misnamed.findings).toEqual([expect.objectContaining({ code: 'name_mismatch', path: '/metadata/name' })])
    // A username is never a client_id: apply's cross-checks run here too.
    await t.db.insertInto('users').values({ username: 'taken-name', content_hash: null }).execute()
    const clash = await expectProblem(
      await api('PUT', 'clients/taken-name', {
        body: { document: client('taken-name', { grantTypes: ['client_credentials'] }), reason: 'r' },
      }),
      422,
      'Invalid document',
    )
    expect(clash.findings).toEqual([
      expect.objectContaining({ code: 'reference', message: 'user taken-name already has this name' }),
    ])
    await t.db.deleteFrom('users').where('username', '=', 'taken-name').execute()
    const stillBefore = await written()
    await expectProblem(
      await api('PUT', 'clients/saas-one', { body: { document: doc, reason: 'r' } }),
      428,
      'Precondition required',
    )
    await expectProblem(
      await api('PUT', 'clients/saas-one', { body: { document: doc, reason: 'r' }, ifMatch: '"0000"' }),
      412,
      'Precondition failed',
    )
    await expectProblem(
      await api('PUT', 'clients/brand-new', {
        body: { document: client('brand-new', { grantTypes: ['client_credentials'] }), reason: 'r' },
        ifMatch: etag,
      }),
      412,
      'Precondition failed',
    )
    expect(await written()).toEqual(stillBefore)
    expect(stillBefore).toEqual(before)
    expect(
      await clientCredentials(server.url, 'saas-one', { resource: OTHER, scope: 'other:write' }, secret),
    ).toHaveProperty('status', 200)
  })

  it('rotates the secret: the new one shown once works, the old one stops at once', async () => {
    const before = await written()
    await expectProblem(await api('POST', 'clients/saas-one:rotate-secret', { body: {} }), 400, 'Bad request')
    expect(await written()).toEqual(before)
    const response = await api('POST', 'clients/saas-one:rotate-secret', { body: { reason: 'leaked in a log' } })
    expect(response.status).toBe(200)
    const { client_secret } = (await response.json()) as { client_secret: string }
    expect(client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(client_secret).not.toBe(secret)
    const old = await clientCredentials(second.url, 'saas-one', { resource: OTHER }, secret)
    expect(old.status).toBe(401)
    expect(await old.json()).toMatchObject({ error: 'invalid_client' })
    expect((await clientCredentials(second.url, 'saas-one', { resource: OTHER }, client_secret)).status).toBe(200)
    expect(await audit('client.secret_rotated')).toEqual([
      { actor: 'admin:mandate-admin', data: { client_id: 'saas-one', reason: 'leaked in a log', source: 'admin-api' } },
    ])
    expect(await etagOf('clients/saas-one')).toBe(etag)
    secret = client_secret
  })

  it('disables a client at once on every process (its tokens too) and enables it again, with a reason', async () => {
    const issued = await clientCredentials(server.url, 'saas-one', { resource: OTHER }, secret)
    const jti = jtiOf(((await issued.json()) as { access_token: string }).access_token)
    const before = await written()
    await expectProblem(await api('POST', 'clients/saas-one:disable', { body: {} }), 400, 'Bad request')
    await expectProblem(await api('POST', 'clients/nobody:disable', { body: { reason: 'r' } }), 404, 'Not found')
    await expectProblem(await api('POST', 'clients/mandate-admin:disable', { body: { reason: 'r' } }), 409, 'Conflict')
    const self = (await (await api('GET', 'clients/mandate-admin')).json()) as { spec: Record<string, unknown> }
    for (const spec of [
      { ...self.spec, scopes: [] },
      { ...self.spec, disabled: true },
    ])
      await expectProblem(
        await api('PUT', 'clients/mandate-admin', {
          body: { document: { ...self, spec }, reason: 'r' },
          ifMatch: await etagOf('clients/mandate-admin'),
        }),
        409,
        'Conflict',
      )
    expect(await written()).toEqual(before)

    const disabled = await api('POST', 'clients/saas-one:disable', { body: { reason: 'contract ended' } })
    expect(disabled.status).toBe(200)
    expect(await disabled.json()).toEqual({ kind: 'clients', id: 'saas-one', changed: true, disabled: true })
    expect(await findActiveToken(t.db, jti, new Date())).toBeUndefined()
    const refused = await clientCredentials(second.url, 'saas-one', { resource: OTHER }, secret)
    expect(refused.status).toBe(401)
    expect(await refused.json()).toMatchObject({ error: 'invalid_client' })
    const list = (await (await api('GET', 'clients')).json()) as { clients: Array<Record<string, unknown>> }
    expect(list.clients).toContainEqual(
      expect.objectContaining({ client_id: 'saas-one', disabled: true, disabled_by_admin: true }),
    )

    const enabled = await api('POST', 'clients/saas-one:enable', { body: { reason: 'renewed' } })
    expect(await enabled.json()).toEqual({ kind: 'clients', id: 'saas-one', changed: true, disabled: false })
    expect((await clientCredentials(second.url, 'saas-one', { resource: OTHER }, secret)).status).toBe(200)
    // Enabling never revives a token issued before the client was disabled.
    expect(await findActiveToken(t.db, jti, new Date())).toBeUndefined()
    await expectAudited('client.disabled', {
      client_id: 'saas-one',
      disabled: true,
      by_document: false,
      reason: 'contract ended',
      source: 'admin-api',
    })
    await expectAudited('client.enabled', {
      client_id: 'saas-one',
      disabled: false,
      by_document: false,
      reason: 'renewed',
      source: 'admin-api',
    })
  })

  it('creates a public client without a secret, and gives one to a confidential web app', async () => {
    const spec = { profile: 'app', grantTypes: ['authorization_code'], redirectUris: ['https://app.test/cb'] }
    const pub = await api('PUT', 'clients/spa-one', { body: { document: client('spa-one', spec), reason: 'SPA' } })
    expect(pub.status).toBe(201)
    expect(await pub.json()).not.toHaveProperty('client_secret')
    const rotate = await expectProblem(
      await api('POST', 'clients/spa-one:rotate-secret', { body: { reason: 'r' } }),
      409,
      'No secret',
    )
    expect(rotate.findings).toEqual([expect.objectContaining({ code: 'no_secret' })])
    const web = await api('PUT', 'clients/web-one', {
      body: { document: client('web-one', spec), reason: 'server-side app', confidential: true },
    })
    expect(web.status).toBe(201)
    expect(await web.json()).toHaveProperty('client_secret', expect.stringMatching(/^[A-Za-z0-9_-]{43}$/))
    // A client that needs a credential and has none is what apply refuses too.
    const keyless = await expectProblem(
      await api('PUT', 'clients/cc-public', {
        body: {
          document: client('cc-public', { grantTypes: ['client_credentials'] }),
          reason: 'r',
          confidential: false,
        },
      }),
      422,
      'Invalid document',
    )
    expect(keyless.findings).toEqual([expect.objectContaining({ code: 'schema', path: '/spec/grantTypes' })])
  })

  it('refuses to delete a client a policy binding names (409), then deletes it with If-Match, ending its tokens', async () => {
    const path = {
      apiVersion: 'mandate/v1',
      kind: 'PolicyPath',
      metadata: { name: 'acme/saas-one' },
      spec: { bindings: [{ client: 'saas-one', resource: OTHER, grantType: 'client_credentials' }] },
    }
    expect((await api('PUT', 'policy-paths/acme/saas-one', { body: { document: path, reason: 'bind' } })).status).toBe(
      201,
    )
    // Enabling moved tokens_not_before to now (clients/store.ts): a token must come from a later second to be active.
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const issued = await clientCredentials(server.url, 'saas-one', { resource: OTHER }, secret)
    const jti = jtiOf(((await issued.json()) as { access_token: string }).access_token)

    const before = await written()
    await expectProblem(
      await api('DELETE', 'clients/saas-one', { body: { reason: 'gone' } }),
      428,
      'Precondition required',
    )
    await expectProblem(
      await api('DELETE', 'clients/saas-one', { body: { reason: 'gone' }, ifMatch: '"x"' }),
      412,
      'Precondition failed',
    )
    await expectProblem(await api('DELETE', 'clients/saas-one', { ifMatch: etag }), 400, 'Bad request')
    await expectProblem(
      await api('DELETE', 'clients/nobody', { body: { reason: 'gone' }, ifMatch: etag }),
      404,
      'Not found',
    )
    await expectProblem(
      await api('DELETE', 'clients/mandate-admin', {
        body: { reason: 'gone' },
        ifMatch: await etagOf('clients/mandate-admin'),
      }),
      409,
      'Conflict',
    )
    const bound = await expectProblem(
      await api('DELETE', 'clients/saas-one', { body: { reason: 'gone' }, ifMatch: etag }),
      409,
      'Still referenced',
    )
    expect(bound.findings).toEqual([
      {
        severity: 'error',
        code: 'bound',
        message: `policy path acme/saas-one binds this client to ${OTHER} (client_credentials)`,
        path: '/spec/bindings',
        document: 'PolicyPath acme/saas-one',
      },
    ])
    expect(await written()).toEqual(before)
    expect(await findActiveToken(t.db, jti, new Date())).toBeDefined()

    const unbound = { ...path, spec: { bindings: [] } }
    const pathTag = await etagOf('policy-paths/acme/saas-one')
    expect(
      (
        await api('PUT', 'policy-paths/acme/saas-one', {
          body: { document: unbound, reason: 'unbind', confirmBroadening: true },
          ifMatch: pathTag,
        })
      ).status,
    ).toBe(200)
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from issued_tokens
      where client_id = 'saas-one' and revoked_at is null and expires_at > now()`.execute(t.db)
    const unrevoked = rows[0]?.n as number
    expect(unrevoked).toBeGreaterThan(1)
    const deleted = await api('DELETE', 'clients/saas-one', { body: { reason: 'contract ended' }, ifMatch: etag })
    expect(deleted.status).toBe(200)
    expect(await deleted.json()).toEqual({ kind: 'clients', id: 'saas-one', deleted: true, revoked_tokens: unrevoked })
    expect(await findActiveToken(t.db, jti, new Date())).toBeUndefined()
    expect((await api('GET', 'clients/saas-one')).status).toBe(404)
    expect((await clientCredentials(second.url, 'saas-one', { resource: OTHER }, secret)).status).toBe(401)
    await expectAudited('document.deleted', {
      kind: 'Client',
      name: 'saas-one',
      digest: null,
      previous_digest: etag.slice(1, -1),
      reason: 'contract ended',
      revoked_tokens: unrevoked,
      source: 'admin-api',
    })
  })
})

describe('the built-in admin console client', () => {
  it('is neither disabled nor given a new secret through the API (409 Built in), writing nothing', async () => {
    // Its secret is derived from the master key at every start: a rotated one would hand the admin a working
    // secret of the console's client and break sign-in; a disabled one would lock every person out.
    for (const action of ['disable', 'rotate-secret']) {
      const before = await written()
      const refused = await expectProblem(
        await api('POST', `clients/mandate-admin-console:${action}`, { body: { reason: 'try' } }),
        409,
        'Built in',
      )
      expect(JSON.stringify(refused)).not.toMatch(/client_secret/)
      expect(await written()).toEqual(before)
    }
  })
})

describe('a client a policy path trusts', () => {
  it('is not deleted while a path names it as an actor, holder or intermediary (409): one registered again would inherit that trust', async () => {
    const path = (name: string, spec: Record<string, unknown>) => ({
      apiVersion: 'mandate/v1',
      kind: 'PolicyPath',
      metadata: { name },
      spec,
    })
    const trusting: Array<[string, Record<string, unknown>, string]> = [
      ['trusts/actor', { delegation: { actors: ['saas-trusted'] } }, '/spec/delegation/actors'],
      ['trusts/holder', { subjectTokens: { holders: ['saas-trusted'] } }, '/spec/subjectTokens/holders'],
      [
        'trusts/intermediary',
        { delegation: { intermediaries: [{ client: 'saas-trusted', actors: ['agent-one'] }] } },
        '/spec/delegation/intermediaries',
      ],
    ]
    for (const [name, spec, field] of trusting) {
      const created = await api('PUT', 'clients/saas-trusted', {
        body: { document: client('saas-trusted', { grantTypes: ['client_credentials'], scopes: [] }), reason: 'r' },
      })
      expect(created.status).toBe(201)
      const etag = created.headers.get('etag') as string
      expect(
        (await api('PUT', `policy-paths/${name}`, { body: { document: path(name, spec), reason: 'trust' } })).status,
      ).toBe(201)
      const before = await written()
      const named = await expectProblem(
        await api('DELETE', 'clients/saas-trusted', { body: { reason: 'gone' }, ifMatch: etag }),
        409,
        'Still referenced',
      )
      expect(named.findings).toEqual([
        expect.objectContaining({ code: 'trusted', path: field, document: `PolicyPath ${name}` }),
      ])
      expect(await written()).toEqual(before)
      // Once the path no longer names it, it goes.
      expect((await api('DELETE', `policy-paths/${name}`, { body: { reason: 'done' }, ifMatch: '"1"' })).status).toBe(
        200,
      )
      expect((await api('DELETE', 'clients/saas-trusted', { body: { reason: 'gone' }, ifMatch: etag })).status).toBe(
        200,
      )
    }
  })
})

describe('resources', () => {
  const resource = (name: string, spec: Record<string, unknown>) => ({
    apiVersion: 'mandate/v1',
    kind: 'Resource',
    metadata: { name },
    spec,
  })

  it('refuses to move a bound resource to another uri (409): its bindings would name a uri nobody has, and pass to whoever takes it', async () => {
    const read = await api('GET', 'resources/notes')
    const etag = read.headers.get('etag') as string
    const document = (await read.json()) as { spec: Record<string, unknown> }
    const before = await written()
    const moved = await expectProblem(
      await api('PUT', 'resources/notes', {
        body: { document: { ...document, spec: { ...document.spec, uri: 'https://notes2.test/' } }, reason: 'move' },
        ifMatch: etag,
      }),
      409,
      'Still referenced',
    )
    expect(moved.findings).toContainEqual(
      expect.objectContaining({ code: 'bound', document: 'PolicyPath acme/support/agent-one' }),
    )
    expect(await written()).toEqual(before)
    // Anything else about it still changes.
    const described = await api('PUT', 'resources/notes', {
      body: {
        document: { ...document, metadata: { name: 'notes', description: 'the notes API' } },
        reason: 'describe',
      },
      ifMatch: etag,
    })
    expect(described.status).toBe(200)
  })

  it('creates a resource, reads it back as the same document, and an unchanged PUT writes nothing', async () => {
    const spec = {
      uri: 'https://crm.test/',
      scopes: ['crm:read', { name: 'crm:write', description: 'change contacts' }],
    }
    const created = await api('PUT', 'resources/crm', { body: { document: resource('crm', spec), reason: 'new API' } })
    expect(created.status).toBe(201)
    const read = await api('GET', 'resources/crm')
    const document = await read.json()
    expect(document).toEqual(resource('crm', { ...spec, introspectors: [], accessTokenLifetime: '5m' }))
    const etag = read.headers.get('etag') as string
    expect(etag).toBe(created.headers.get('etag'))
    const before = await written()
    const again = await api('PUT', 'resources/crm', { body: { document, reason: 'no-op' }, ifMatch: etag })
    expect(await again.json()).toMatchObject({ changed: false })
    expect(await written()).toEqual(before)
    const changed = await api('PUT', 'resources/crm', {
      body: {
        document: resource('crm', { ...spec, introspectors: ['rs-other'], accessTokenLifetime: '10m' }),
        reason: 'rs',
      },
      ifMatch: etag,
    })
    expect(await changed.json()).toMatchObject({
      changed: true,
      changes: ['changes spec.accessTokenLifetime 5m → 10m', 'adds spec.introspectors rs-other'],
    })
  })

  it('lets one of two changes made against the same ETag win; the other is 412 and writes nothing', async () => {
    const etag = await etagOf('resources/crm')
    const change = (lifetime: string) =>
      api('PUT', 'resources/crm', {
        body: {
          document: resource('crm', { uri: 'https://crm.test/', accessTokenLifetime: lifetime }),
          reason: 'race',
        },
        ifMatch: etag,
      })
    const before = (await audit('document.updated')).length
    const statuses = (await Promise.all([change('1m'), change('2m')])).map((response) => response.status)
    expect(statuses.sort()).toEqual([200, 412])
    expect((await audit('document.updated')).length).toBe(before + 1)
  })

  it('revokes the tokens for the old uri of a resource moved to another one, as deleting it would', async () => {
    const ledger = resource('ledger', { uri: 'https://ledger.test/', scopes: ['ledger:read'] })
    expect((await api('PUT', 'resources/ledger', { body: { document: ledger, reason: 'new API' } })).status).toBe(201)
    const created = await api('PUT', 'clients/ledger-sync', {
      body: {
        document: client('ledger-sync', { grantTypes: ['client_credentials'], scopes: ['ledger:read'] }),
        reason: 'r',
      },
    })
    const { client_secret } = (await created.json()) as { client_secret: string }
    const wanted = { resource: 'https://ledger.test/', scope: 'ledger:read' }
    const issued = await clientCredentials(server.url, 'ledger-sync', wanted, client_secret)
    expect(issued.status, await issued.clone().text()).toBe(200)
    const jti = jtiOf(((await issued.json()) as { access_token: string }).access_token)
    expect(await findActiveToken(t.db, jti, new Date())).toBeDefined()
    const moved = await api('PUT', 'resources/ledger', {
      body: { document: { ...ledger, spec: { ...ledger.spec, uri: 'https://ledger2.test/' } }, reason: 'new host' },
      ifMatch: await etagOf('resources/ledger'),
    })
    expect(moved.status).toBe(200)
    // A resource registered later at the old uri must not accept what was issued for this one.
    expect(await findActiveToken(t.db, jti, new Date())).toBeUndefined()
    await expectAudited(
      'document.updated',
      expect.objectContaining({ kind: 'Resource', name: 'ledger', revoked_tokens: 1 }),
    )
  })

  it("refuses a uri another resource has and a client nobody registered (422, apply's findings)", async () => {
    const before = await written()
    const taken = await expectProblem(
      await api('PUT', 'resources/copy', {
        body: { document: resource('copy', { uri: 'https://tickets.test/', introspectors: ['ghost'] }), reason: 'r' },
      }),
      422,
      'Invalid document',
    )
    expect(taken.findings).toEqual([
      expect.objectContaining({
        code: 'reference',
        path: '/spec/uri',
        message: 'resource tickets already uses this uri',
      }),
      expect.objectContaining({ code: 'reference', path: '/spec/introspectors/0', message: 'unknown client ghost' }),
    ])
    expect(await written()).toEqual(before)
  })

  it('refuses to delete a bound resource (409) and the built-in admin resource, deletes a free one', async () => {
    const before = await written()
    const bound = await expectProblem(
      await api('DELETE', 'resources/tickets', { body: { reason: 'r' }, ifMatch: await etagOf('resources/tickets') }),
      409,
      'Still referenced',
    )
    expect(bound.findings).toContainEqual(
      expect.objectContaining({ code: 'bound', document: 'PolicyPath acme/support/agent-one' }),
    )
    await expectProblem(
      await api('DELETE', 'resources/mandate-admin-api', {
        body: { reason: 'r' },
        ifMatch: await etagOf('resources/mandate-admin-api'),
      }),
      409,
      'Built in',
    )
    expect(await written()).toEqual(before)
    const deleted = await api('DELETE', 'resources/crm', {
      body: { reason: 'retired' },
      ifMatch: await etagOf('resources/crm'),
    })
    expect(await deleted.json()).toEqual({ kind: 'resources', id: 'crm', deleted: true, revoked_tokens: 0 })
    expect((await api('GET', 'resources/crm')).status).toBe(404)
  })
})

describe('issuers', () => {
  const KEY = {
    kty: 'EC',
    crv: 'P-256',
    x: 'wVqB95h0QLZrWaCxHenF2Qdc5EbdRAD3Sn9c__ZDW6c',
    y: 'w0W_ITAEFlv-Fqcarts-HhGBqxaPMYvjNIW0Sg4soRA',
  }
  const issuer = (description: string, login: Record<string, unknown>) => ({
    apiVersion: 'mandate/v1',
    kind: 'Issuer',
    metadata: { name: 'partner-idp', description },
    spec: { issuer: 'https://partner.test', algorithms: ['ES256'], jwks: { keys: [KEY] }, login },
  })
  const storedLogin = async () =>
    (await t.db.selectFrom('issuers').select('login').where('name', '=', 'partner-idp').executeTakeFirstOrThrow()).login

  it('never shows the upstream client secret, and keeps it when the document comes back without it', async () => {
    const login = { clientId: 'mandate', clientSecret: 'upstream-secret-value' }
    expect(
      (await api('PUT', 'issuers/partner-idp', { body: { document: issuer('partner', login), reason: 'r' } })).status,
    ).toBe(201)
    const read = await api('GET', 'issuers/partner-idp')
    const document = (await read.json()) as { spec: { login: Record<string, unknown> } }
    expect(document.spec.login).toEqual({ clientId: 'mandate', scopes: ['openid', 'profile', 'email'] })
    const updated = await api('PUT', 'issuers/partner-idp', {
      body: {
        document: { ...document, metadata: { name: 'partner-idp', description: 'our partner' } },
        reason: 'rename',
      },
      ifMatch: read.headers.get('etag') as string,
    })
    expect(await updated.json()).toMatchObject({
      changed: true,
      changes: ['changes metadata.description partner → our partner'],
    })
    expect(await storedLogin()).toMatchObject({ clientSecret: 'upstream-secret-value' })
    expect(JSON.stringify(await audit('document.updated'))).not.toContain('upstream-secret-value')
  })

  it('shows no digest of the upstream client secret: the ETag and audit digests are the same whatever the secret', async () => {
    // A plain hash over the secret, shown as the ETag or in the audit trail, would let anyone who reads it test
    // guesses of the secret offline.
    const read = await api('GET', 'issuers/partner-idp')
    const etag = read.headers.get('etag') as string
    const document = (await read.json()) as { spec: Record<string, unknown> & { login: Record<string, unknown> } }
    const withSecret = (secret: string) => ({
      ...document,
      spec: { ...document.spec, login: { ...document.spec.login, clientSecret: secret } },
    })
    const rotated = await api('PUT', 'issuers/partner-idp', {
      body: { document: withSecret('another-upstream-secret'), reason: 'rotated upstream' },
      ifMatch: etag,
    })
    expect(rotated.status).toBe(200)
    expect(await rotated.json()).toMatchObject({ changed: true })
    expect(await storedLogin()).toMatchObject({ clientSecret: 'another-upstream-secret' })
    // Only the secret changed: what is shown of the document, its ETag, did not.
    expect(rotated.headers.get('etag')).toBe(etag)
    const back = await api('PUT', 'issuers/partner-idp', {
      body: { document: withSecret('upstream-secret-value'), reason: 'rotated back' },
      ifMatch: etag,
    })
    expect(back.status).toBe(200)
    expect(back.headers.get('etag')).toBe(etag)
    const digest = etag.replaceAll('"', '')
    const events = (await audit('document.updated')).filter((event) =>
      ['rotated upstream', 'rotated back'].includes(event.data.reason as string),
    )
    expect(events.map((event) => event.data)).toEqual([
      expect.objectContaining({ digest, previous_digest: digest }),
      expect.objectContaining({ digest, previous_digest: digest }),
    ])
  })

  it('keeps the stored upstream secret only for the same issuer and client id: sent elsewhere it must be given again (422)', async () => {
    // Otherwise an admin who may not read the secret could point the issuer at their own server and be sent it
    // (Basic authentication at that server's token endpoint) by the next upstream sign-in.
    const read = await api('GET', 'issuers/partner-idp')
    const etag = read.headers.get('etag') as string
    const document = (await read.json()) as { spec: Record<string, unknown> & { login: Record<string, unknown> } }
    for (const spec of [
      { ...document.spec, issuer: 'https://attacker.test' },
      { ...document.spec, login: { ...document.spec.login, clientId: 'someone-else' } },
    ]) {
      const before = await written()
      const refused = await expectProblem(
        await api('PUT', 'issuers/partner-idp', {
          body: { document: { ...document, spec }, reason: 'move' },
          ifMatch: etag,
        }),
        422,
        'Invalid document',
      )
      expect(refused.findings).toContainEqual(
        expect.objectContaining({ code: 'secret_required', path: '/spec/login/clientSecret' }),
      )
      expect(await written()).toEqual(before)
    }
    expect(await storedLogin()).toMatchObject({ clientId: 'mandate', clientSecret: 'upstream-secret-value' })
    // With the secret given, the move is saved.
    const moved = await api('PUT', 'issuers/partner-idp', {
      body: {
        document: {
          ...document,
          spec: {
            ...document.spec,
            issuer: 'https://partner2.test',
            login: { ...document.spec.login, clientSecret: 'new-secret' },
          },
        },
        reason: 'move',
      },
      ifMatch: etag,
    })
    expect(moved.status).toBe(200)
    expect(await storedLogin()).toMatchObject({ clientSecret: 'new-secret' })
  })

  it('refuses to delete an issuer a policy path accepts (409), deletes one no path names', async () => {
    const before = await written()
    const named = await expectProblem(
      await api('DELETE', 'issuers/test-idp', { body: { reason: 'r' }, ifMatch: await etagOf('issuers/test-idp') }),
      409,
      'Still referenced',
    )
    expect(named.findings).toEqual([
      expect.objectContaining({ code: 'named', document: 'PolicyPath acme', path: '/spec/subjectTokens/issuers' }),
    ])
    expect(await written()).toEqual(before)
    const deleted = await api('DELETE', 'issuers/partner-idp', {
      body: { reason: 'partnership over' },
      ifMatch: await etagOf('issuers/partner-idp'),
    })
    expect(await deleted.json()).toEqual({ kind: 'issuers', id: 'partner-idp', deleted: true })
  })
})

describe('users', () => {
  const user = (spec: Record<string, unknown>) => ({
    apiVersion: 'mandate/v1',
    kind: 'User',
    metadata: { name: 'dana' },
    spec,
  })
  /** A token whose subject is dana (as a sign-in would issue), recorded by hand. */
  async function danaToken(): Promise<string> {
    const jti = `dana-${crypto.randomUUID()}`
    const kid = (await t.db.selectFrom('signing_keys').select('kid').executeTakeFirstOrThrow()).kid
    await t.db
      .insertInto('issued_tokens')
      .values({
        jti,
        kid,
        grant_type: 'authorization_code',
        client_id: 'agent-one',
        sub: 'dana',
        aud: ['https://tickets.test/'],
        issued_at: new Date(Date.now() - 1000),
        expires_at: new Date(Date.now() + 600_000),
      })
      .execute()
    return jti
  }

  it('creates a user, never takes or shows a password hash, and keeps the one set with the CLI', async () => {
    const created = await api('PUT', 'users/dana', {
      body: { document: user({ email: 'dana@example.test' }), reason: 'hire' },
    })
    expect(created.status).toBe(201)
    const before = await written()
    const hashed = await expectProblem(
      await api('PUT', 'users/dana', {
        body: { document: user({ passwordHash: await hashPassword('dana-password-1234') }), reason: 'r' },
        ifMatch: created.headers.get('etag') as string,
      }),
      422,
      'Invalid document',
    )
    expect(hashed.findings).toEqual([
      expect.objectContaining({ code: 'password_not_here', path: '/spec/passwordHash' }),
    ])
    expect(await written()).toEqual(before)

    const hash = await hashPassword('dana-password-1234')
    await t.db.updateTable('users').set({ password_hash: hash }).where('username', '=', 'dana').execute()
    const read = await api('GET', 'users/dana')
    const text = await read.text()
    expect(text).not.toContain('argon2')
    expect(JSON.parse(text)).toEqual(user({ email: 'dana@example.test', disabled: false }))
    const renamed = await api('PUT', 'users/dana', {
      body: { document: user({ email: 'dana@example.test', displayName: 'Dana' }), reason: 'name' },
      ifMatch: read.headers.get('etag') as string,
    })
    expect(await renamed.json()).toMatchObject({ changed: true, changes: ['adds spec.displayName Dana'] })
    const row = await t.db
      .selectFrom('users')
      .select('password_hash')
      .where('username', '=', 'dana')
      .executeTakeFirstOrThrow()
    expect(row.password_hash).toBe(hash)
    const list = (await (await api('GET', 'users')).json()) as { users: Array<Record<string, unknown>> }
    expect(list.users).toContainEqual(expect.objectContaining({ username: 'dana', password: true, disabled: false }))
    expect(JSON.stringify(list)).not.toContain('argon2')
  })

  it('disables a user (their tokens end at once) and enables them again, with a reason', async () => {
    const jti = await danaToken()
    expect(await findActiveToken(t.db, jti, new Date())).toBeDefined()
    const disabled = await api('POST', 'users/dana:disable', { body: { reason: 'left the company' } })
    expect(await disabled.json()).toEqual({ kind: 'users', id: 'dana', changed: true, disabled: true })
    expect(await findActiveToken(t.db, jti, new Date())).toBeUndefined()
    await expectAudited('user.disabled', { username: 'dana', reason: 'left the company', source: 'admin-api' })
    const enabled = await api('POST', 'users/dana:enable', { body: { reason: 'came back' } })
    expect(await enabled.json()).toEqual({ kind: 'users', id: 'dana', changed: true, disabled: false })
    const before = await written()
    expect((await api('POST', 'users/dana:rotate-secret', { body: { reason: 'r' } })).status).toBe(404)
    expect((await api('POST', 'resources/tickets:disable', { body: { reason: 'r' } })).status).toBe(404)
    await expectProblem(await api('POST', 'users/nobody:disable', { body: { reason: 'r' } }), 404, 'Not found')
    expect(await written()).toEqual(before)
  })

  it('deletes a user with If-Match: their tokens are revoked, not left to a row that is gone', async () => {
    const jti = await danaToken()
    const deleted = await api('DELETE', 'users/dana', {
      body: { reason: 'erasure request' },
      ifMatch: await etagOf('users/dana'),
    })
    expect(await deleted.json()).toEqual({ kind: 'users', id: 'dana', deleted: true, revoked_tokens: 2 })
    const row = await t.db
      .selectFrom('issued_tokens')
      .select('revoked_at')
      .where('jti', '=', jti)
      .executeTakeFirstOrThrow()
    expect(row.revoked_at).not.toBeNull()
    expect((await api('GET', 'users/dana')).status).toBe(404)
  })
})

describe('documents read back', () => {
  it('are what apply stored: every fixture client, resource and issuer (but the built-in admin API and admin console client) PUT back as read changes nothing', async () => {
    const before = await written()
    for (const kind of ['clients', 'resources', 'issuers'] as const) {
      const list = (await (await api('GET', kind)).json()) as Record<
        string,
        Array<{ client_id?: string; name?: string }>
      >
      const ids = (list[kind] ?? []).map((entry) => (entry.client_id ?? entry.name) as string)
      expect(ids.length).toBeGreaterThan(kind === 'issuers' ? 0 : 3)
      for (const id of ids.filter((name) => name !== 'mandate-admin-api' && name !== 'mandate-admin-console')) {
        const read = await api('GET', `${kind}/${id}`)
        const body = { document: await read.json(), reason: 'round trip' }
        const again = await api('PUT', `${kind}/${id}`, { body, ifMatch: read.headers.get('etag') as string })
        expect(await again.json(), `${kind}/${id}`).toMatchObject({ changed: false })
      }
    }
    expect(await written()).toEqual(before)
  })
})

describe('the routes', () => {
  it('answers 401 without a token on every route, 405 for a method a list does not take', async () => {
    for (const [method, path] of [
      ['GET', 'clients'],
      ['GET', 'clients/agent-one'],
      ['PUT', 'resources/x'],
      ['DELETE', 'issuers/x'],
      ['POST', 'users/x:disable'],
    ] as const) {
      const response = await api(method, path, { auth: false, ...(method === 'GET' ? {} : { body: {} }) })
      expect(response.status, `${method} ${path}`).toBe(401)
    }
    const wrong = await api('DELETE', 'clients', { body: {} })
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get('allow')).toBe('GET, HEAD')
    expect((await api('GET', 'clients/nobody')).status).toBe(404)
  })
})
