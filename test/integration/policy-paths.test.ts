// Policy paths and issuers through `mandate apply`: versions, bindings, references, and the effect
// of a new version on the very next exchange. Also a trusted issuer whose keys come from a JWKS URL.
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt, exportJWK, SignJWT } from 'jose'
import { afterAll, describe, expect, it } from 'vitest'
import { applyDocuments } from '../../src/manifests/apply.ts'
import { counts, useDatabase } from '../support/database.ts'
import { accessToken, exchange, expectRejection } from '../support/oauth.ts'
import { fixtures, TEST_APPLY, useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)
const TE = 'urn:ietf:params:oauth:grant-type:token-exchange'

function write(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-policy-'))
  writeFileSync(join(dir, 'doc.yaml'), text)
  return dir
}
const apply = (dir: string) => applyDocuments(t.db, [dir], TEST_APPLY)
const path = (scopes: string, extra = '') => `apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: acme/support/agent-one, owner: support-platform }
spec:
  bindings:
    - { client: agent-one, resource: https://tickets.test/, grantType: ${TE} }
    - { client: agent-one, resource: https://notes.test/, grantType: ${TE} }
  scopes: [${scopes}]
  tokenLifetime: 2m
  delegation: { mode: delegation, actors: [agent-one, sub-agent, sub-sub-agent, agent-two] }
${extra}`
const versions = (name: string) =>
  t.db.selectFrom('policy_path_versions').select('version').where('path', '=', name).orderBy('version').execute()

describe('policy path versions', () => {
  it('creates a version only when the content changes, and the next exchange uses it', async () => {
    expect((await versions('acme/support/agent-one')).map((v) => v.version)).toEqual([1])
    expect(
      (await applyDocuments(t.db, [fixtures], TEST_APPLY)).changes.filter((c) => c.action !== 'unchanged'),
    ).toEqual([])
    expect((await versions('acme/support/agent-one')).map((v) => v.version)).toEqual([1])

    const subject = await accessToken(server.url, 'alice-app', { scope: 'tickets:read tickets:write' })
    const narrowed = await apply(write(path('tickets:read')))
    expect(narrowed.changes.map((c) => `${c.kind}/${c.name} ${c.action}`)).toEqual([
      'PolicyPath/acme/support/agent-one updated',
    ])
    expect((await versions('acme/support/agent-one')).map((v) => v.version)).toEqual([1, 2])

    await expectRejection(
      await exchange(server.url, 'agent-one', {
        subject_token: subject,
        resource: 'https://tickets.test/',
        scope: 'tickets:write',
      }),
      {
        status: 400,
        error: 'invalid_scope',
        error_description: 'the requested scope is not allowed',
      },
    )
    const allowed = await exchange(server.url, 'agent-one', {
      subject_token: subject,
      resource: 'https://tickets.test/',
    })
    const { access_token } = (await allowed.json()) as { access_token: string }
    expect(decodeJwt(access_token)).toMatchObject({ scope: 'tickets:read', policy_version: 2 })

    // Restore the fixture's version (it becomes version 3: versions are never reused).
    await apply(write(path('tickets:read, tickets:write, notes:read, admin:all')))
    expect((await versions('acme/support/agent-one')).map((v) => v.version)).toEqual([1, 2, 3])
  })

  it('refuses a second binding of a triple, unknown references, and writes nothing', async () => {
    const before = await counts(t.db)
    const versionsBefore = await t.db.selectFrom('policy_path_versions').selectAll().execute()
    const result = await apply(
      write(`apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: acme/thief }
spec:
  bindings:
    - { client: agent-one, resource: https://tickets.test/, grantType: ${TE} }
    - { client: ghost, resource: https://nowhere.test/, grantType: ${TE} }
  subjectTokens: { issuers: [self, mystery-idp] }
  delegation: { actors: [nobody] }
`),
    )
    expect(result.findings.map((f) => `${f.line}:${f.column} ${f.message}`)).toEqual([
      '6:7 this (client, resource, grant type) is already bound by policy path acme/support/agent-one',
      '7:17 unknown client ghost',
      '7:34 unknown resource https://nowhere.test/',
      '8:36 unknown issuer mystery-idp (use self or an Issuer name)',
      '9:26 unknown client nobody',
    ])
    expect(await counts(t.db)).toEqual(before)
    expect(await t.db.selectFrom('policy_path_versions').selectAll().execute()).toEqual(versionsBefore)
  })

  it('moves a binding from one path to another in one apply', async () => {
    const dir = write(`apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: acme/support/agent-two-notes }
spec: { bindings: [] }
---
apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: acme/support/agent-two-notes-v2 }
spec:
  bindings:
    - { client: agent-two, resource: https://notes.test/, grantType: ${TE} }
`)
    expect((await apply(dir)).findings).toEqual([])
    const bound = await t.db
      .selectFrom('policy_bindings')
      .select('path')
      .where('client_id', '=', 'agent-two')
      .where('resource', '=', 'https://notes.test/')
      .execute()
    expect(bound).toEqual([{ path: 'acme/support/agent-two-notes-v2' }])
  })
})

describe('a trusted issuer with a JWKS URL', () => {
  let jwksServer: Server
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  afterAll(() => new Promise((resolve) => jwksServer?.close(resolve)))

  it('verifies subject tokens with keys fetched from the issuer, and fails closed when it is unreachable', async () => {
    const jwk = { ...(await exportJWK(publicKey)), kid: 'remote-1', alg: 'ES256', use: 'sig' }
    jwksServer = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })),
    )
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve))
    const port = (jwksServer.address() as AddressInfo).port
    const result = await apply(
      write(`apiVersion: mandate/v1
kind: Issuer
metadata: { name: remote-idp }
spec:
  issuer: https://remote-idp.test
  jwksUri: http://127.0.0.1:${port}/jwks
  algorithms: [ES256]
---
apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: remote }
spec:
  bindings:
    - { client: agent-two, resource: https://other.test/api, grantType: ${TE} }
  subjectTokens: { issuers: [remote-idp] }
`),
    )
    expect(result.findings).toEqual([])
    const now = Math.floor(Date.now() / 1000)
    const person = await new SignJWT({ scope: 'other:read' })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'remote-1' })
      .setIssuer('https://remote-idp.test')
      .setSubject('bob')
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(privateKey)
    const response = await exchange(server.url, 'agent-two', {
      subject_token: person,
      resource: 'https://other.test/api',
    })
    expect(response.status).toBe(200)
    const { access_token } = (await response.json()) as { access_token: string }
    expect(decodeJwt(access_token)).toMatchObject({ sub: 'bob', act: { sub: 'agent-two' }, scope: 'other:read' })

    // An issuer whose JWKS endpoint cannot be reached fails closed: 503, no token.
    await new Promise((resolve) => jwksServer.close(resolve))
    expect(
      (
        await apply(
          write(`apiVersion: mandate/v1
kind: Issuer
metadata: { name: down-idp }
spec:
  issuer: https://down-idp.test
  jwksUri: http://127.0.0.1:${port}/down-idp/jwks
  algorithms: [ES256]
---
apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: remote }
spec:
  bindings:
    - { client: agent-two, resource: https://other.test/api, grantType: ${TE} }
  subjectTokens: { issuers: [remote-idp, down-idp] }
`),
        )
      ).findings,
    ).toEqual([])
    const unknownKid = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'down-1' })
      .setIssuer('https://down-idp.test')
      .setSubject('bob')
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(privateKey)
    const before = await counts(t.db)
    const unavailable = await exchange(server.url, 'agent-two', {
      subject_token: unknownKid,
      resource: 'https://other.test/api',
    })
    expect(unavailable.headers.get('retry-after')).toBe('5')
    await expectRejection(unavailable, {
      status: 503,
      error: 'temporarily_unavailable',
      error_description: 'the authorization server is temporarily unavailable, retry later',
    })
    expect((await counts(t.db)).issued_tokens).toBe(before.issued_tokens)
  })
})
