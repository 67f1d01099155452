// Retiring a policy path through the admin API (issue 13): DELETE with If-Match and a reason; its bindings stop
// matching at once (an exchange they governed meets the unbound-triple refusal), its history is kept with the
// retirement as a version, and a PUT creates it again. Every version says where it came from: the file
// `mandate apply` read and its sha-256, or the admin and their reason. Every refusal writes nothing.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { sql } from 'kysely'
import { beforeAll, describe, expect, it } from 'vitest'
import { buildCatalog } from '../../src/catalog/catalog.ts'
import { loadCatalogRows } from '../../src/catalog/load.ts'
import { planPolicyPath } from '../../src/policy/plan-apply.ts'
import { PolicyPathDocument } from '../../src/policy/schema.ts'
import { useDatabase } from '../support/database.ts'
import { accessToken, exchange } from '../support/oauth.ts'
import { fixtures, useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)
let token: string
const tickets = 'https://tickets.test/'
/** RFC 8693 §2.2.2: an exchange of a (client, resource) no path binds. */
const UNBOUND = {
  error: 'invalid_target',
  error_description: 'the resource is missing, unknown or not allowed for this client',
}

const call = (method: string, name: string, body?: unknown, ifMatch?: string) =>
  fetch(`${server.adminUrl}/admin/v1/policy-paths/${name}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(ifMatch ? { 'if-match': ifMatch } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
// biome-ignore lint/suspicious/noExplicitAny: JSON answers, read field by field in assertions
type Json = any
const get = async (path: string) => {
  const response = await call('GET', path)
  return { status: response.status, etag: response.headers.get('etag'), body: (await response.json()) as Json }
}

/** What a refusal must leave as it was: versions, bindings and audit events. */
const state = async () =>
  (
    await sql<{ versions: string; bindings: string; audit: string }>`select
      (select count(*) from policy_path_versions) as versions,
      (select count(*) from policy_bindings) as bindings,
      (select count(*) from audit_events) as audit`.execute(t.db)
  ).rows[0]
const retirements = async () =>
  (
    await sql<{ actor: string; data: Record<string, unknown> }>`select actor, data from audit_events
      where type = 'policy_path.retired' order by event_id`.execute(t.db)
  ).rows

async function expectProblem(response: Response, status: number, title: string) {
  expect(response.status).toBe(status)
  expect(response.headers.get('content-type')).toContain('application/problem+json')
  const body = (await response.json()) as { findings?: Array<Record<string, unknown>> }
  expect(body).toMatchObject({ type: 'about:blank', title, status })
  return body
}

beforeAll(async () => {
  token = await accessToken(server.url, 'mandate-admin', { resource: 'urn:mandate:admin', scope: 'mandate:admin' })
})

describe('the source of every version', () => {
  it('records the file apply read and the sha-256 of its bytes', async () => {
    const file = `${fixtures}policy-paths.yaml`
    const { status, body } = await get('acme/support/versions')
    expect(status).toBe(200)
    expect(body.versions).toEqual([
      {
        version: 1,
        content_hash: expect.any(String),
        created_at: expect.any(String),
        retired: false,
        reason: null,
        source: {
          kind: 'file',
          file: relative(process.cwd(), file),
          digest: createHash('sha256').update(readFileSync(file)).digest('hex'),
        },
      },
    ])
  })

  it('records the admin and the reason of a change through the API, also on GET …/versions/{v}', async () => {
    const current = await get('acme/gateway')
    const narrower = { ...current.body, spec: { ...current.body.spec, tokenLifetime: '30s' } }
    const response = await call('PUT', 'acme/gateway', { document: narrower, reason: 'shorter gateway tokens' }, '"1"')
    expect(response.status).toBe(200)
    const { body } = await get('acme/gateway/versions/2')
    expect(body).toMatchObject({
      name: 'acme/gateway',
      version: 2,
      retired: false,
      reason: 'shorter gateway tokens',
      source: { kind: 'admin', admin: 'admin:mandate-admin' },
    })
  })
})

describe('DELETE /admin/v1/policy-paths/{name}', () => {
  const subject = () => accessToken(server.url, 'alice-app', { scope: 'tickets:read tickets:write' })
  const ask = async () =>
    exchange(server.url, 'agent-one', { subject_token: await subject(), resource: tickets, scope: 'tickets:read' })

  it('refuses without a reason (400), without If-Match (428), stale (412), unknown (404), with paths below it (409), writing nothing', async () => {
    const before = await state()
    await expectProblem(await call('DELETE', 'acme/support/agent-one', {}, '"1"'), 400, 'Bad request')
    await expectProblem(await call('DELETE', 'acme/support/agent-one', { reason: 'x' }), 428, 'Precondition required')
    await expectProblem(
      await call('DELETE', 'acme/support/agent-one', { reason: 'x' }, '"7"'),
      412,
      'Precondition failed',
    )
    await expectProblem(await call('DELETE', 'acme/nothing-here', { reason: 'x' }, '"1"'), 404, 'Not found')
    const anonymous = await fetch(`${server.adminUrl}/admin/v1/policy-paths/acme/support/agent-one`, {
      method: 'DELETE',
      headers: { 'content-type': 'application/json', 'if-match': '"1"' },
      body: JSON.stringify({ reason: 'x' }),
    })
    expect(anonymous.status).toBe(401)
    const below = await expectProblem(
      await call('DELETE', 'acme/support', { reason: 'x' }, '"1"'),
      409,
      'Paths below it',
    )
    expect(below.findings).toEqual(
      expect.arrayContaining([
        {
          severity: 'error',
          code: 'has_descendants',
          message: 'policy path acme/support/agent-one is below acme/support and in force',
          path: '',
        },
      ]),
    )
    expect(await state()).toEqual(before)
    expect((await ask()).status).toBe(200)
  })

  it('refuses to unbind a client_credentials triple unconfirmed (it would have no ceiling), then retires it confirmed', async () => {
    const name = 'acme/services/agent-one-other'
    const before = await state()
    const refused = await expectProblem(
      await call('DELETE', name, { reason: 'x' }, '"1"'),
      409,
      'Broadening not confirmed',
    )
    expect(refused.findings).toEqual([
      {
        severity: 'security_warning',
        code: 'broadening',
        message:
          'removes binding agent-one → https://other.test/api (client_credentials): no path ceiling is left for it',
        path: '/spec/bindings',
      },
    ])
    expect(await state()).toEqual(before)
    const retired = await call('DELETE', name, { reason: 'other API gone', confirmBroadening: true }, '"1"')
    expect(retired.status).toBe(200)
  })

  it('retires a path: bindings gone at once, history kept with the retirement, audited', async () => {
    const name = 'acme/support/agent-one'
    expect((await ask()).status).toBe(200)
    const response = await call('DELETE', name, { reason: 'agent one moves to a new team' }, '"1"')
    expect(response.status).toBe(200)
    expect(response.headers.get('etag')).toBe('"2"')
    expect(await response.json()).toMatchObject({ name, version: 2, retired: true })
    // The next request finds no binding for the triple: the unbound-triple refusal.
    const refused = await ask()
    expect({ status: refused.status, body: await refused.json() }).toEqual({
      status: 400,
      body: UNBOUND,
    })
    expect(
      (await sql<{ n: string }>`select count(*) as n from policy_bindings where path = ${name}`.execute(t.db)).rows[0]
        ?.n,
    ).toBe('0')
    // Not in force: GET and effective answer 404; the list leaves it out unless asked for retired paths.
    expect((await get(name)).status).toBe(404)
    expect((await get(`${name}/effective`)).status).toBe(404)
    const list: Json = await (
      await fetch(`${server.adminUrl}/admin/v1/policy-paths`, { headers: { authorization: `Bearer ${token}` } })
    ).json()
    expect(list.policy_paths.map((p: { name: string }) => p.name)).not.toContain(name)
    const all: Json = await (
      await fetch(`${server.adminUrl}/admin/v1/policy-paths?retired=true`, {
        headers: { authorization: `Bearer ${token}` },
      })
    ).json()
    expect(all.policy_paths.find((p: { name: string }) => p.name === name)).toMatchObject({ retired: true, version: 2 })
    // The history keeps both versions; the retirement keeps the last document, with who and why.
    const versions = await get(`${name}/versions`)
    expect(versions.body.versions.map((v: { version: number; retired: boolean }) => [v.version, v.retired])).toEqual([
      [2, true],
      [1, false],
    ])
    const last = await get(`${name}/versions/2`)
    const first = await get(`${name}/versions/1`)
    expect(last.body).toMatchObject({
      retired: true,
      reason: 'agent one moves to a new team',
      source: { kind: 'admin', admin: 'admin:mandate-admin' },
      document: first.body.document,
    })
    expect(await retirements()).toContainEqual({
      actor: 'admin:mandate-admin',
      data: {
        name,
        reason: 'agent one moves to a new team',
        from_version: 1,
        to_version: 2,
        source: { kind: 'admin', admin: 'admin:mandate-admin' },
        unbound: first.body.document.spec.bindings,
      },
    })
    // Retiring it again: it is not in force.
    await expectProblem(await call('DELETE', name, { reason: 'again' }, '"2"'), 404, 'Not found')
  })

  it('waits for a path being written below it, then refuses (409): no retirement races a new child', async () => {
    const parent = 'acme/support/agent-two-notes'
    const child = PolicyPathDocument.parse({
      apiVersion: 'mandate/v1',
      kind: 'PolicyPath',
      metadata: { name: `${parent}/child` },
      spec: {},
    })
    let release = () => {}
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let written = false
    // Another writer creates a child and keeps its transaction open (its locks held) for a while.
    const writer = t.db.transaction().execute(async (trx) => {
      await (await planPolicyPath(trx, child)).write(trx, new Date())
      written = true
      await held
    })
    while (!written) await sleep(10)
    const retiring = call('DELETE', parent, { reason: 'racing a child' }, '"1"')
    await sleep(300)
    release()
    await writer
    const refused = await expectProblem(await retiring, 409, 'Paths below it')
    expect(refused.findings).toEqual([
      expect.objectContaining({ code: 'has_descendants', message: expect.stringContaining(`${parent}/child`) }),
    ])
  })

  it('is no level anywhere: not in the catalog, the effective policy or the validation of a path created below it', async () => {
    const doc = (name: string, spec: Record<string, unknown>) => ({
      apiVersion: 'mandate/v1',
      kind: 'PolicyPath',
      metadata: { name },
      spec,
    })
    // A level that lets nothing through, retired; then a path below it.
    expect(
      (await call('PUT', 'acme/frozen', { document: doc('acme/frozen', { scopes: [] }), reason: 'r' })).status,
    ).toBe(201)
    expect((await call('DELETE', 'acme/frozen', { reason: 'thawed' }, '"1"')).status).toBe(200)
    const child = doc('acme/frozen/child', { scopes: ['tickets:read'] })
    expect((await call('PUT', 'acme/frozen/child', { document: child, reason: 'r' })).status).toBe(201)

    const catalog = buildCatalog(await loadCatalogRows(t.db))
    expect(catalog.pathPolicy('acme/frozen')).toBeUndefined()
    expect(catalog.pathPolicy('acme/frozen/child')).toMatchObject({
      versions: { acme: 1, 'acme/frozen/child': 1 },
      scopes: ['tickets:read'],
    })
    expect((await get('acme/frozen/child/effective')).body).toMatchObject({
      versions: { acme: 1, 'acme/frozen/child': 1 },
      scopes: { value: ['tickets:read'], from: ['acme/frozen/child'] },
    })
    const validated = await fetch(`${server.adminUrl}/admin/v1/policy-paths:validate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(doc('acme/frozen/other', { scopes: ['tickets:read'] })),
    })
    expect(await validated.json()).toEqual({ valid: true, findings: [] })
  })

  it('creates a retired path again with PUT: a broadening against nothing, to confirm', async () => {
    const name = 'acme/support/agent-one'
    const { body } = await get(`${name}/versions/1`)
    const before = await state()
    const refused = await expectProblem(
      await call('PUT', name, { document: body.document, reason: 'back' }),
      409,
      'Broadening not confirmed',
    )
    expect(refused.findings).toContainEqual(
      expect.objectContaining({
        severity: 'security_warning',
        message: expect.stringContaining('adds binding agent-one'),
      }),
    )
    await expectProblem(
      await call('PUT', name, { document: body.document, reason: 'back', confirmBroadening: true }, '"1"'),
      412,
      'Precondition failed',
    )
    expect(await state()).toEqual(before)
    const created = await call('PUT', name, { document: body.document, reason: 'back', confirmBroadening: true })
    expect(created.status).toBe(201)
    expect(created.headers.get('etag')).toBe('"3"')
    expect((await get(name)).etag).toBe('"3"')
    expect((await ask()).status).toBe(200)
  })
})
