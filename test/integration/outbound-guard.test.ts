// The outbound guard at run time: a URL that was acceptable when applied but whose host resolves to a
// forbidden address (DNS rebinding, SSRF) is never connected to, and keys too weak to trust verify
// nothing, whether fetched from a jwksUri or stored inline before apply refused them.
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type JWK, SignJWT } from 'jose'
import { afterAll, describe, expect, it } from 'vitest'
import { upsertIssuer } from '../../src/issuers/store.ts'
import { applyDocuments } from '../../src/manifests/apply.ts'
import { counts, useDatabase } from '../support/database.ts'
import { personToken } from '../support/idp.ts'
import { exchange, expectRejection, tasksCall } from '../support/oauth.ts'
import { TEST_APPLY, useServer } from '../support/server.ts'
import { startTask } from '../support/tasks.ts'

const t = useDatabase()
// The server allows 127.0.0.1 (MANDATE_OUTBOUND__ALLOW_HOSTS=127.0.0.1) but not the name localhost.
const server = useServer(t)
const other = 'https://other.test/api'
const TE = 'urn:ietf:params:oauth:grant-type:token-exchange'

/** Applies as an operator whose rules allowed `localhost` when the documents were written. */
async function applyAllowing(hosts: string[], text: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-guard-'))
  writeFileSync(join(dir, 'docs.yaml'), text)
  const result = await applyDocuments(t.db, [dir], {
    ...TEST_APPLY,
    outbound: { requireHttps: false, allowHosts: hosts },
  })
  expect(result.findings).toEqual([])
}

/** A local HTTP server that counts the requests it receives. */
async function listen(
  answer: (body: string) => [number, string],
): Promise<{ server: Server; port: number; hits: string[] }> {
  const hits: string[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => (body += chunk))
    req.on('end', () => {
      hits.push(`${req.method} ${req.url}`)
      const [status, text] = answer(body)
      res.writeHead(status, { 'content-type': 'application/json' }).end(text)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as AddressInfo).port, hits }
}

const servers: Server[] = []
afterAll(() => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))))

async function issuedCount(): Promise<number> {
  return (await counts(t.db)).issued_tokens as number
}

describe('a host that resolves to loopback at fetch time', () => {
  it('receives no revocation webhook: the delivery fails with the reason and is retried later', async () => {
    const receiver = await listen(() => [202, '{}'])
    servers.push(receiver.server)
    await applyAllowing(
      ['localhost'],
      `apiVersion: mandate/v1
kind: Resource
metadata: { name: tickets }
spec:
  uri: https://tickets.test/
  scopes: [tickets:read, tickets:write]
  introspectors: [rs-tickets]
  accessTokenLifetime: 5m
  revocationWebhook: http://localhost:${receiver.port}/events
`,
    )
    const { task_id } = (
      await startTask(server.url, {
        alice: await personToken({ scope: 'tickets:read' }),
        params: { purpose: 'Rebinding' },
      })
    ).task
    expect((await tasksCall(server.url, 'agent-one', `/tasks/${task_id}/complete`, {})).status).toBe(200)

    const delivery = () =>
      t.db
        .selectFrom('webhook_deliveries')
        .selectAll()
        .where('url', '=', `http://localhost:${receiver.port}/events`)
        .executeTakeFirstOrThrow()
    for (let i = 0; i < 50 && (await delivery()).attempts === 0; i++) await new Promise((r) => setTimeout(r, 100))
    expect(await delivery()).toMatchObject({
      attempts: 1,
      delivered_at: null,
      failed_at: null,
      last_error: expect.stringMatching(/^localhost resolves to a loopback address \((127\.0\.0\.1|::1)\)$/),
    })
    expect(receiver.hits).toEqual([])
  })

  it('is never asked for its JWKS: the exchange fails closed (503) and issues nothing', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const jwks = await listen(() => [
      200,
      JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1' }] }),
    ])
    servers.push(jwks.server)
    await applyAllowing(
      ['localhost'],
      `apiVersion: mandate/v1
kind: Issuer
metadata: { name: rebinding-idp }
spec:
  issuer: https://rebinding-idp.test
  jwksUri: http://localhost:${jwks.port}/jwks
  algorithms: [ES256]
---
apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: guard }
spec:
  bindings:
    - { client: agent-two, resource: '${other}', grantType: ${TE} }
  subjectTokens: { issuers: [rebinding-idp] }
`,
    )
    const token = await signed('https://rebinding-idp.test', 'ES256', 'k1', privateKey)
    const before = await issuedCount()
    const response = await exchange(server.url, 'agent-two', { subject_token: token, resource: other })
    expect(response.headers.get('retry-after')).toBe('5')
    await expectRejection(response, {
      status: 503,
      error: 'temporarily_unavailable',
      error_description: 'the authorization server is temporarily unavailable, retry later',
    })
    expect(jwks.hits).toEqual([])
    expect(await issuedCount()).toBe(before)
  })
})

/** A person's access token from `iss`, signed with `key` (header alg and kid as given). */
function signed(iss: string, alg: string, kid: string, key: KeyObject): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ scope: 'other:read' })
    .setProtectedHeader({ alg, typ: 'at+jwt', kid })
    .setIssuer(iss)
    .setSubject('bob')
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(key)
}

/** A JWT signed by node:crypto, which (unlike jose) signs with RSA-1024 and secp256k1 keys. */
function signedRaw(iss: string, alg: 'RS256' | 'ES256', kid: string, key: KeyObject): string {
  const now = Math.floor(Date.now() / 1000)
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const input = `${part({ alg, typ: 'at+jwt', kid })}.${part({ iss, sub: 'bob', scope: 'other:read', iat: now, exp: now + 300 })}`
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
  return `${input}.${signature.toString('base64url')}`
}

describe('keys too weak to trust, at run time', () => {
  const weak = generateKeyPairSync('rsa', { modulusLength: 1024 })
  const k256 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' })
  const strong = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const publicJwk = (key: KeyObject, kid: string): JWK => ({ ...key.export({ format: 'jwk' }), kid })

  async function exchangeRefused(token: string): Promise<void> {
    const before = await issuedCount()
    const response = await exchange(server.url, 'agent-two', { subject_token: token, resource: other })
    await expectRejection(response, {
      status: 400,
      error: 'invalid_request',
      error_description: 'the subject_token, actor_token or task_id is invalid',
    })
    expect(await issuedCount()).toBe(before)
    const decision = await t.db
      .selectFrom('decisions')
      .select(['result', 'reason', 'issued_jti'])
      .where('decision_id', '=', response.headers.get('x-decision-id') as string)
      .executeTakeFirstOrThrow()
    expect(decision).toEqual({ result: 'deny', reason: 'subject_token.invalid', issued_jti: null })
  }

  it('verifies nothing with an RSA-1024 or secp256k1 key an issuer publishes at its jwksUri, and still uses its strong keys', async () => {
    const jwks = await listen(() => [
      200,
      JSON.stringify({
        keys: [
          publicJwk(weak.publicKey, 'weak'),
          publicJwk(k256.publicKey, 'k256'),
          publicJwk(strong.publicKey, 'strong'),
        ],
      }),
    ])
    servers.push(jwks.server)
    // An inline key stored before apply refused weak keys (written to the table directly).
    await upsertIssuer(
      t.db,
      {
        name: 'legacy-idp',
        issuer: 'https://legacy-idp.test',
        jwks_uri: null,
        jwks: { keys: [publicJwk(weak.publicKey, 'weak')] },
        algorithms: ['RS256'],
        audience: null,
        description: null,
        labels: {},
        content_hash: 'legacy',
        tokens_without_scope: 'none',
      },
      new Date(),
    )
    await applyAllowing(
      ['127.0.0.1'],
      `apiVersion: mandate/v1
kind: Issuer
metadata: { name: weak-idp }
spec:
  issuer: https://weak-idp.test
  jwksUri: http://127.0.0.1:${jwks.port}/jwks
  algorithms: [RS256, ES256]
---
apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: guard }
spec:
  bindings:
    - { client: agent-two, resource: '${other}', grantType: ${TE} }
  subjectTokens: { issuers: [weak-idp, legacy-idp] }
`,
    )
    await exchangeRefused(signedRaw('https://weak-idp.test', 'RS256', 'weak', weak.privateKey))
    await exchangeRefused(signedRaw('https://weak-idp.test', 'ES256', 'k256', k256.privateKey))
    await exchangeRefused(signedRaw('https://legacy-idp.test', 'RS256', 'weak', weak.privateKey))

    const ok = await exchange(server.url, 'agent-two', {
      subject_token: await signed('https://weak-idp.test', 'ES256', 'strong', strong.privateKey),
      resource: other,
    })
    expect(ok.status).toBe(200)
    expect(jwks.hits.length).toBeGreaterThan(0)
  })
})
