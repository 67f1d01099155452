// Changing a policy path through the admin API (issue 13): valid, against the version read (If-Match), with a
// reason, broadening only when confirmed; every refusal a problem document that writes nothing; every change
// audited and in force on every process at once.
import { decodeJwt } from 'jose'
import { sql } from 'kysely'
import { beforeAll, describe, expect, it } from 'vitest'
import { useDatabase } from '../support/database.ts'
import { accessToken, clientCredentials } from '../support/oauth.ts'
import { useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)
const second = useServer(t, { apply: [] })
let token: string
const NAME = 'acme/services/agent-one-other'
const OTHER = 'https://other.test/api'

const document = (spec: Record<string, unknown>, name = NAME) => ({
  apiVersion: 'mandate/v1',
  kind: 'PolicyPath',
  metadata: { name, description: 'client_credentials governed by a path' },
  spec: { bindings: [{ client: 'agent-one', resource: OTHER, grantType: 'client_credentials' }], ...spec },
})

const put = (name: string, body: unknown, ifMatch?: string) =>
  fetch(`${server.adminUrl}/admin/v1/policy-paths/${name}`, {
    method: 'PUT',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      ...(ifMatch ? { 'if-match': ifMatch } : {}),
    },
    body: JSON.stringify(body),
  })

const versions = async (name = NAME) =>
  Number(
    (await sql<{ n: string }>`select count(*) as n from policy_path_versions where path = ${name}`.execute(t.db))
      .rows[0]?.n,
  )
const changes = async () =>
  (
    await sql<{ data: Record<string, unknown>; actor: string }>`select data, actor from audit_events
    where type = 'policy_path.changed' order by occurred_at`.execute(t.db)
  ).rows

beforeAll(async () => {
  token = await accessToken(server.url, 'mandate-admin', { resource: 'urn:mandate:admin', scope: 'mandate:admin' })
})

async function expectProblem(response: Response, status: number, title: string) {
  expect(response.status).toBe(status)
  expect(response.headers.get('content-type')).toContain('application/problem+json')
  const body = (await response.json()) as { title: string; status: number; findings?: Array<Record<string, unknown>> }
  expect(body).toMatchObject({ type: 'about:blank', title, status })
  return body
}

describe('PUT /admin/v1/policy-paths/{name}', () => {
  it('narrows with If-Match and a reason: a new version, audited, in force on another process at once', async () => {
    const before = await versions()
    const response = await put(
      NAME,
      { document: document({ scopes: [], tokenLifetime: '30s' }), reason: 'freeze other' },
      '"1"',
    )
    expect(response.status).toBe(200)
    expect(response.headers.get('etag')).toBe('"2"')
    expect(await response.json()).toMatchObject({ name: NAME, version: 2, changed: true })
    expect(await versions()).toBe(before + 1)
    // The next request on the other process is decided by version 2: no scope left, so nothing to grant.
    const refused = await clientCredentials(second.url, 'agent-one', { resource: OTHER, scope: 'other:read' })
    expect(refused.status).toBe(400)
    expect(await changes()).toContainEqual({
      actor: 'admin:mandate-admin',
      data: expect.objectContaining({
        name: NAME,
        reason: 'freeze other',
        from_version: 1,
        to_version: 2,
        broadening: false,
        changes: ['removes scope other:read', 'lowers tokenLifetime 1m → 30s'],
        source: { kind: 'admin', admin: 'admin:mandate-admin' },
        via: 'admin-api',
      }),
    })
  })

  it('refuses an unconfirmed broadening (409, security_warning findings, nothing written), then takes it confirmed', async () => {
    const before = await versions()
    const body = { document: document({ scopes: ['other:read'], tokenLifetime: '1m' }), reason: 'thaw other' }
    const refused = await expectProblem(await put(NAME, body, '"2"'), 409, 'Broadening not confirmed')
    expect(refused.findings).toEqual([
      { severity: 'security_warning', code: 'broadening', message: 'adds scope other:read', path: '/spec/scopes' },
      {
        severity: 'security_warning',
        code: 'broadening',
        message: 'raises tokenLifetime 30s → 1m',
        path: '/spec/tokenLifetime',
      },
    ])
    expect(await versions()).toBe(before)
    const confirmed = await put(NAME, { ...body, confirmBroadening: true }, '"2"')
    expect(confirmed.status).toBe(200)
    const granted = await clientCredentials(second.url, 'agent-one', { resource: OTHER, scope: 'other:read' })
    const issued = (await granted.json()) as { access_token: string }
    expect(granted.status).toBe(200)
    expect(decodeJwt(issued.access_token)).toMatchObject({ policy_path: NAME, policy_version: 3 })
  })

  it('refuses a stale If-Match (412), a missing one (428), a missing reason (400) and an invalid document (422), writing nothing', async () => {
    const before = { versions: await versions(), audit: (await changes()).length }
    const ok = { document: document({ scopes: ['other:read'] }), reason: 'r' }
    await expectProblem(await put(NAME, ok, '"1"'), 412, 'Precondition failed')
    await expectProblem(await put(NAME, ok), 428, 'Precondition required')
    await expectProblem(await put(NAME, { document: ok.document }, '"3"'), 400, 'Bad request')
    const invalid = await expectProblem(
      await put(
        NAME,
        {
          document: document({
            tokenLifetime: 'soon',
            bindings: [{ client: 'ghost', resource: OTHER, grantType: 'client_credentials' }],
          }),
          reason: 'r',
        },
        '"3"',
      ),
      422,
      'Invalid document',
    )
    expect(invalid.findings).toEqual([
      expect.objectContaining({
        severity: 'error',
        code: 'schema',
        path: '/spec/tokenLifetime',
        line: expect.any(Number),
        column: expect.any(Number),
      }),
    ])
    await expectProblem(
      await put(NAME, { document: document({}, 'acme/other-name'), reason: 'r' }, '"3"'),
      422,
      'Invalid document',
    )
    expect({ versions: await versions(), audit: (await changes()).length }).toEqual(before)
  })

  it('creates a new path without If-Match (201), and an unchanged document writes no version', async () => {
    const fresh = 'acme/services/fresh'
    const doc = {
      apiVersion: 'mandate/v1',
      kind: 'PolicyPath',
      metadata: { name: fresh },
      spec: { scopes: ['other:read'] },
    }
    const created = await put(fresh, { document: doc, reason: 'new team' })
    expect(created.status).toBe(201)
    expect(await created.json()).toMatchObject({ version: 1, changed: true })
    const again = await put(fresh, { document: doc, reason: 'again' }, '"1"')
    expect(again.status).toBe(200)
    expect(await again.json()).toMatchObject({ version: 1, changed: false, changes: [] })
    expect(await versions(fresh)).toBe(1)
  })

  it('refuses an unconfirmed raise of an action rate burst (max) even when the rate per second stays the same', async () => {
    // GCRA lets `max` through at once: 600 per 1m lets 600 evaluations through in one instant, 10 per 1s only 10.
    const name = 'acme/services/burst'
    const doc = (rate: Record<string, unknown>) => ({
      apiVersion: 'mandate/v1',
      kind: 'PolicyPath',
      metadata: { name },
      spec: { actions: [{ name: 'tickets.read', class: 'read', rate }] },
    })
    expect((await put(name, { document: doc({ max: 10, per: '1s' }), reason: 'new' })).status).toBe(201)
    const before = { versions: await versions(name), audit: (await changes()).length }
    const refused = await expectProblem(
      await put(name, { document: doc({ max: 600, per: '1m' }), reason: 'same rate' }, '"1"'),
      409,
      'Broadening not confirmed',
    )
    expect(refused.findings).toEqual([
      expect.objectContaining({ severity: 'security_warning', path: '/spec/actions/tickets.read/rate' }),
    ])
    expect({ versions: await versions(name), audit: (await changes()).length }).toEqual(before)
    const lowered = await put(name, { document: doc({ max: 1, per: '1s' }), reason: 'smaller bursts' }, '"1"')
    expect(await lowered.json()).toMatchObject({
      changed: true,
      changes: [
        expect.objectContaining({ text: 'lowers the rate of tickets.read 10 per 1s → 1 per 1s', broadening: false }),
      ],
    })
  })

  it("refuses unconfirmed broadenings that a field's default hides: an issuer beside self, maxDepth above 1, a limit dropped under a wider parent", async () => {
    const path = (name: string, spec: Record<string, unknown>) => ({
      apiVersion: 'mandate/v1',
      kind: 'PolicyPath',
      metadata: { name },
      spec,
    })
    // Nothing set: Mandate's own subject tokens only, one actor deep (effective.ts's defaults).
    expect((await put('drift', { document: path('drift', {}), reason: 'new' })).status).toBe(201)
    // A parent wider than its child: the child's own limits are all that keeps its effective policy narrow.
    const wide = {
      subjectTokens: { holders: ['agent-two'] },
      delegation: { mode: 'either', intermediaries: [{ client: 'gateway', actors: ['agent-one'] }] },
    }
    expect((await put('drift2', { document: path('drift2', wide), reason: 'new' })).status).toBe(201)
    const narrow = { subjectTokens: { holders: [] }, delegation: { mode: 'delegation', intermediaries: [] } }
    expect((await put('drift2/leaf', { document: path('drift2/leaf', narrow), reason: 'new' })).status).toBe(201)
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['drift', { subjectTokens: { issuers: ['test-idp'] } }, '/spec/subjectTokens/issuers'],
      ['drift', { delegation: { maxDepth: 3 } }, '/spec/delegation/maxDepth'],
      ['drift2/leaf', { delegation: narrow.delegation }, '/spec/subjectTokens/holders'],
      [
        'drift2/leaf',
        { subjectTokens: narrow.subjectTokens, delegation: { intermediaries: [] } },
        '/spec/delegation/mode',
      ],
      [
        'drift2/leaf',
        { subjectTokens: narrow.subjectTokens, delegation: { mode: 'delegation' } },
        '/spec/delegation/intermediaries',
      ],
    ]
    for (const [name, spec, field] of cases) {
      const before = { versions: await versions(name), audit: (await changes()).length }
      const refused = await expectProblem(
        await put(name, { document: path(name, spec), reason: 'looks harmless' }, '"1"'),
        409,
        'Broadening not confirmed',
      )
      expect(refused.findings).toContainEqual(
        expect.objectContaining({ severity: 'security_warning', code: 'broadening', path: field }),
      )
      expect({ versions: await versions(name), audit: (await changes()).length }).toEqual(before)
    }
  })

  it('refuses to create, unconfirmed, a path above paths in force that widens them (their defaults give way to it)', async () => {
    const path = (name: string, spec: Record<string, unknown>) => ({
      apiVersion: 'mandate/v1',
      kind: 'PolicyPath',
      metadata: { name },
      spec,
    })
    expect((await put('orphan/leaf', { document: path('orphan/leaf', {}), reason: 'new' })).status).toBe(201)
    // orphan/leaf accepts our own tokens only, one actor deep, delegation only: a new level above it changes that.
    const above = path('orphan', {
      subjectTokens: { issuers: ['test-idp'] },
      delegation: { mode: 'either', maxDepth: 5 },
    })
    const before = { versions: await versions('orphan'), audit: (await changes()).length }
    const refused = await expectProblem(
      await put('orphan', { document: above, reason: 'new guardrails' }),
      409,
      'Broadening not confirmed',
    )
    for (const field of ['/spec/subjectTokens/issuers', '/spec/delegation/mode', '/spec/delegation/maxDepth'])
      expect(refused.findings).toContainEqual(
        expect.objectContaining({ severity: 'security_warning', code: 'broadening', path: field }),
      )
    expect({ versions: await versions('orphan'), audit: (await changes()).length }).toEqual(before)
    const confirmed = await put('orphan', { document: above, reason: 'new guardrails', confirmBroadening: true })
    expect(confirmed.status).toBe(201)
    // A new path with nothing below it is compared with nothing, as before: no confirmation.
    expect((await put('orphan2', { document: path('orphan2', above.spec), reason: 'new' })).status).toBe(201)
  })

  it('refuses any If-Match on a path that does not exist (412), even one spelling a missing version, writing nothing', async () => {
    const name = 'acme/services/never'
    const doc = { apiVersion: 'mandate/v1', kind: 'PolicyPath', metadata: { name }, spec: {} }
    for (const tag of ['"undefined"', '"1"', '*']) {
      const before = { versions: await versions(name), audit: (await changes()).length }
      await expectProblem(await put(name, { document: doc, reason: 'new' }, tag), 412, 'Precondition failed')
      expect({ versions: await versions(name), audit: (await changes()).length }).toEqual(before)
    }
  })

  it('answers 401 without an admin token', async () => {
    const response = await fetch(`${server.adminUrl}/admin/v1/policy-paths/${NAME}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    })
    expect(response.status).toBe(401)
  })
})

describe('POST /admin/v1/policy-paths/{name}/versions/{v}:activate', () => {
  const activate = (version: number, body: unknown, ifMatch?: string) =>
    fetch(`${server.adminUrl}/admin/v1/policy-paths/${NAME}/versions/${version}:activate`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        ...(ifMatch ? { 'if-match': ifMatch } : {}),
      },
      body: JSON.stringify(body),
    })
  const hashOf = async (version: number) =>
    (
      await t.db
        .selectFrom('policy_path_versions')
        .select('content_hash')
        .where('path', '=', NAME)
        .where('version', '=', version)
        .executeTakeFirstOrThrow()
    ).content_hash

  it('rolls back by a new version equal to the old one, with If-Match, a reason and, when it broadens, a confirmation', async () => {
    const narrowing = await activate(2, { reason: 'freeze again' }, '"3"')
    expect(narrowing.status).toBe(200)
    expect(await narrowing.json()).toMatchObject({ version: 4, changed: true })
    expect(await hashOf(4)).toBe(await hashOf(2))
    expect(await changes()).toContainEqual(
      expect.objectContaining({ data: expect.objectContaining({ to_version: 4, via: 'rollback to version 2' }) }),
    )

    const before = await versions()
    await expectProblem(await activate(1, { reason: 'thaw' }, '"4"'), 409, 'Broadening not confirmed')
    await expectProblem(
      await activate(1, { reason: 'thaw', confirmBroadening: true }, '"3"'),
      412,
      'Precondition failed',
    )
    await expectProblem(await activate(9, { reason: 'thaw' }, '"4"'), 404, 'Not found')
    expect(await versions()).toBe(before)
    const back = await activate(1, { reason: 'thaw', confirmBroadening: true }, '"4"')
    expect(back.status).toBe(200)
    expect(back.headers.get('etag')).toBe('"5"')
    expect(await hashOf(5)).toBe(await hashOf(1))
  })
})
