// What `mandate apply` refuses beyond each document's shape (issue 8): keys too weak to verify anything,
// bindings that would hand the admin resource to a non-administrator, and URLs the server must never
// fetch; and the audit event it writes for every document it creates or changes.
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { type Kysely, sql } from 'kysely'
import { beforeAll, describe, expect, it } from 'vitest'
import { ensureAdminAccess } from '../../src/admin/bootstrap.ts'
import type { DB } from '../../src/db/schema.ts'
import { systemClock } from '../../src/lib/clock.ts'
import { applyDocuments } from '../../src/manifests/apply.ts'
import { formatFinding } from '../../src/manifests/load.ts'
import type { OutboundRules } from '../../src/outbound/rules.ts'
import { counts, rowCount, useDatabase } from '../support/database.ts'
import { TEST_APPLY } from '../support/server.ts'

const t = useDatabase()
const strict: OutboundRules = { requireHttps: false, allowHosts: [] }

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-hardening-'))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

const apply = (dir: string, options: Partial<typeof TEST_APPLY> = {}) =>
  applyDocuments(t.db, [dir], { ...TEST_APPLY, ...options })
const shown = (result: Awaited<ReturnType<typeof apply>>) =>
  result.findings.map((f) => formatFinding({ ...f, file: f.file.split('/').pop() as string }))

/** Everything an apply could write: the tables counts() watches plus issuers, versions and the audit trail. */
async function written(db: Kysely<DB>) {
  const count = (table: 'issuers' | 'policy_path_versions' | 'audit_events') => rowCount(db, table)
  return {
    ...(await counts(db)),
    issuers: await count('issuers'),
    policy_path_versions: await count('policy_path_versions'),
    audit_events: await count('audit_events'),
  }
}

/** A public JWK in YAML flow style. */
const jwk = (key: KeyObject, extra: Record<string, string> = {}) =>
  JSON.stringify({ ...key.export({ format: 'jwk' }), ...extra })
const rsa = (bits: number) => generateKeyPairSync('rsa', { modulusLength: bits }).publicKey
const ec = (namedCurve: string) => generateKeyPairSync('ec', { namedCurve }).publicKey

const issuer = (name: string, keys: string[], algorithms: string) => `apiVersion: mandate/v1
kind: Issuer
metadata: { name: ${name} }
spec:
  issuer: https://${name}.test
  algorithms: [${algorithms}]
  jwks:
    keys:
${keys.map((key) => `      - ${key}`).join('\n')}
`
const jwtClient = (name: string, key: string) => `apiVersion: mandate/v1
kind: Client
metadata: { name: ${name} }
spec:
  profile: agent
  jwks:
    keys:
      - ${key}
  grantTypes: [client_credentials]
`

describe('key strength', () => {
  it('refuses issuer and client keys weaker than RSA-2048 / P-256, or that no listed algorithm can use', async () => {
    const dir = folder({
      'issuers.yaml': [
        issuer('rsa-1024', [jwk(rsa(1024))], 'RS256'),
        issuer('k256', [jwk(ec('secp256k1'))], 'ES256'),
        issuer('ed448', [jwk(generateKeyPairSync('ed448').publicKey)], 'EdDSA'),
        issuer('mismatch', [jwk(ec('P-384')), jwk(ec('P-256'), { alg: 'ES512' })], 'ES256'),
        issuer('broken', ['{ kty: EC, crv: P-256, x: AAAA, y: AAAA }'], 'ES256'),
      ].join('---\n'),
      'client.yaml': jwtClient('weak-jwt-client', jwk(rsa(1024))),
    })
    const before = await written(t.db)
    const result = await apply(dir)
    expect(shown(result)).toEqual([
      'client.yaml:8:9: an RSA key must have at least 2048 bits (this one has 1024) (at spec.jwks.keys.0)',
      'issuers.yaml:9:9: an RSA key must have at least 2048 bits (this one has 1024) (at spec.jwks.keys.0)',
      'issuers.yaml:19:9: an EC key must use P-256, P-384 or P-521 (not secp256k1) (at spec.jwks.keys.0)',
      'issuers.yaml:29:9: an OKP key must be Ed25519 (not Ed448) (at spec.jwks.keys.0)',
      'issuers.yaml:39:9: no algorithm in spec.algorithms can use this key (it suits ES384) (at spec.jwks.keys.0)',
      "issuers.yaml:40:9: the key's alg ES512 is not in spec.algorithms (at spec.jwks.keys.1)",
      'issuers.yaml:50:9: not a valid public key (at spec.jwks.keys.0)',
    ])
    expect(result.changes).toEqual([])
    expect(await written(t.db)).toEqual(before)
  })

  it('accepts RSA-2048, P-256 to P-521 and Ed25519 keys', async () => {
    const dir = folder({
      'issuers.yaml': issuer(
        'strong',
        [
          jwk(rsa(2048)),
          jwk(ec('P-256')),
          jwk(ec('P-384')),
          jwk(ec('P-521')),
          jwk(generateKeyPairSync('ed25519').publicKey),
        ],
        'RS256, PS256, ES256, ES384, ES512, EdDSA',
      ),
      'client.yaml': jwtClient('strong-jwt-client', jwk(ec('P-256'))),
    })
    const result = await apply(dir)
    expect(shown(result)).toEqual([])
    expect(result.changes.map((c) => `${c.kind}/${c.name} ${c.action}`)).toEqual([
      'Client/strong-jwt-client created',
      'Issuer/strong created',
    ])
  })
})

const ADMIN = 'urn:mandate:admin'
const client = (name: string, scopes: string) => `apiVersion: mandate/v1
kind: Client
metadata: { name: ${name} }
spec:
  profile: service
  secret: ${name}-secret-0123456789
  grantTypes: [client_credentials, urn:ietf:params:oauth:grant-type:token-exchange]
  scopes: [${scopes}]
`
const adminPath = (name: string, clientId: string, grantType: string) => `apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: ${name} }
spec:
  bindings:
    - { client: ${clientId}, resource: '${ADMIN}', grantType: ${grantType} }
`

describe('bindings to the admin resource', () => {
  // What every server start ensures: the built-in admin resource exists.
  beforeAll(() => ensureAdminAccess(t.db, { clock: systemClock }))

  it('refuses binding a client without mandate:admin to urn:mandate:admin, by either grant', async () => {
    await apply(folder({ 'stored.yaml': client('stored-agent', 'docs:read') }))
    const dir = folder({
      'clients.yaml': client('plain-agent', 'docs:read'),
      'paths.yaml': [
        adminPath('admin-cc', 'plain-agent', 'client_credentials'),
        adminPath('admin-te', 'stored-agent', 'urn:ietf:params:oauth:grant-type:token-exchange'),
      ].join('---\n'),
    })
    const before = await written(t.db)
    const result = await apply(dir)
    expect(shown(result)).toEqual([
      'paths.yaml:6:17: only a client holding mandate:admin may be bound to the admin resource urn:mandate:admin (at spec.bindings.0.client)',
      'paths.yaml:13:17: only a client holding mandate:admin may be bound to the admin resource urn:mandate:admin (at spec.bindings.0.client)',
    ])
    expect(await written(t.db)).toEqual(before)
  })

  it('accepts it for an administrator, and then refuses taking mandate:admin away while the binding stands', async () => {
    const dir = folder({
      'clients.yaml': client('ops-admin', 'mandate:admin'),
      'paths.yaml': adminPath('admin-ops', 'ops-admin', 'client_credentials'),
    })
    expect(shown(await apply(dir))).toEqual([])

    const demoted = folder({ 'clients.yaml': client('ops-admin', 'docs:read') })
    const before = await written(t.db)
    expect(shown(await apply(demoted))).toEqual([
      'clients.yaml:8:11: policy path admin-ops binds this client to the admin resource urn:mandate:admin, so it must hold mandate:admin (at spec.scopes)',
    ])
    expect(await written(t.db)).toEqual(before)
    // Removing the binding in the same apply makes the demotion fine.
    const both = folder({
      'clients.yaml': client('ops-admin', 'docs:read'),
      'paths.yaml': `apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: admin-ops }
spec: { bindings: [] }
`,
    })
    expect(shown(await apply(both))).toEqual([])
  })
})

const webhookResource = (name: string, url: string) => `apiVersion: mandate/v1
kind: Resource
metadata: { name: ${name} }
spec:
  uri: https://${name}.test/
  revocationWebhook: ${url}
`
const remoteIssuer = (name: string, url: string) => `apiVersion: mandate/v1
kind: Issuer
metadata: { name: ${name} }
spec:
  issuer: https://${name}.test
  jwksUri: ${url}
  algorithms: [ES256]
`

describe('URLs the server fetches', () => {
  it('refuses loopback, link-local and metadata hosts in jwksUri and revocationWebhook, however written', async () => {
    const dir = folder({
      'urls.yaml': [
        remoteIssuer('metadata-v4', 'http://169.254.169.254/latest/meta-data/'),
        remoteIssuer('metadata-v6', 'http://[fd00:ec2::254]/jwks'),
        remoteIssuer('link-local', 'https://169.254.10.1/jwks'),
        remoteIssuer('link-local-v6', 'https://[fe80::1]/jwks'),
        webhookResource('loopback', 'http://127.0.0.1:8080/events'),
        webhookResource('loopback-decimal', 'http://2130706433/events'),
        webhookResource('loopback-v6', 'http://[::1]/events'),
        webhookResource('loopback-mapped', 'http://[::ffff:127.0.0.1]/events'),
        webhookResource('loopback-name', 'http://Localhost./events'),
        webhookResource('unspecified', 'http://0.0.0.0:9000/events'),
      ].join('---\n'),
    })
    const before = await written(t.db)
    const result = await apply(dir, { outbound: strict })
    const hint = 'unless MANDATE_OUTBOUND__ALLOW_HOSTS lists it'
    expect(shown(result)).toEqual([
      `urls.yaml:6:12: must not point at a metadata address (169.254.169.254) ${hint} (at spec.jwksUri)`,
      `urls.yaml:14:12: must not point at a metadata address (fd00:ec2::254) ${hint} (at spec.jwksUri)`,
      `urls.yaml:22:12: must not point at a link-local address (169.254.10.1) ${hint} (at spec.jwksUri)`,
      `urls.yaml:30:12: must not point at a link-local address (fe80::1) ${hint} (at spec.jwksUri)`,
      `urls.yaml:38:22: must not point at a loopback address (127.0.0.1) ${hint} (at spec.revocationWebhook)`,
      `urls.yaml:45:22: must not point at a loopback address (127.0.0.1) ${hint} (at spec.revocationWebhook)`,
      `urls.yaml:52:22: must not point at a loopback address (::1) ${hint} (at spec.revocationWebhook)`,
      `urls.yaml:59:22: must not point at a loopback address (::ffff:7f00:1) ${hint} (at spec.revocationWebhook)`,
      `urls.yaml:66:22: must not point at a loopback address (localhost) ${hint} (at spec.revocationWebhook)`,
      `urls.yaml:73:22: must not point at a unspecified address (0.0.0.0) ${hint} (at spec.revocationWebhook)`,
    ])
    expect(await written(t.db)).toEqual(before)
  })

  it('accepts a loopback host the operator allows, and refuses http in production', async () => {
    const local = folder({ 'local.yaml': webhookResource('local-receiver', 'http://127.0.0.1:8080/events') })
    expect(shown(await apply(local, { outbound: { requireHttps: false, allowHosts: ['127.0.0.1'] } }))).toEqual([])

    const plain = folder({
      'plain.yaml': `${remoteIssuer('plain-idp', 'http://idp.example.com/jwks')}---\n${webhookResource('plain-rs', 'http://rs.example.com/events')}`,
    })
    const before = await written(t.db)
    const production = { requireHttps: true, allowHosts: [] }
    expect(shown(await apply(plain, { outbound: production }))).toEqual([
      'plain.yaml:6:12: must be an https URL in production (at spec.jwksUri)',
      'plain.yaml:14:22: must be an https URL in production (at spec.revocationWebhook)',
    ])
    expect(await written(t.db)).toEqual(before)
    expect(shown(await apply(plain, { outbound: strict }))).toEqual([])
  })
})

describe('the audit trail of apply', () => {
  const events = (name: string) =>
    t.db
      .selectFrom('audit_events')
      .select(['type', 'actor', 'data'])
      .where(sql<string>`data->>'name'`, '=', name)
      .orderBy('event_id')
      .execute()

  it('writes one event per created or changed document (kind, name, version, digest), none when unchanged', async () => {
    const dir = folder({
      'a.yaml': `${client('audited', 'docs:read')}---\n${webhookResource('audited-rs', 'https://rs.example.com/events')}---
apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: audited }
spec:
  bindings:
    - { client: audited, resource: 'https://audited-rs.test/', grantType: client_credentials }
`,
    })
    // A dry run writes nothing, audit included.
    await apply(dir, { dryRun: true })
    expect(await events('audited')).toEqual([])

    await apply(dir, { actor: 'cli:ops' })
    const created = [...(await events('audited')), ...(await events('audited-rs'))]
    // The policy path's names its source: the file as given and the sha-256 of its bytes.
    const source = {
      kind: 'file',
      file: relative(process.cwd(), join(dir, 'a.yaml')),
      digest: createHash('sha256')
        .update(readFileSync(join(dir, 'a.yaml')))
        .digest('hex'),
    }
    expect(created).toEqual([
      {
        type: 'document.created',
        actor: 'cli:ops',
        data: {
          kind: 'Client',
          name: 'audited',
          version: null,
          digest: expect.stringMatching(/^[0-9a-f]{64}$/),
          previous_digest: null,
        },
      },
      {
        type: 'document.created',
        actor: 'cli:ops',
        data: {
          kind: 'PolicyPath',
          name: 'audited',
          version: 1,
          digest: expect.stringMatching(/^[0-9a-f]{64}$/),
          previous_digest: null,
          source,
        },
      },
      {
        type: 'document.created',
        actor: 'cli:ops',
        data: {
          kind: 'Resource',
          name: 'audited-rs',
          version: null,
          digest: expect.stringMatching(/^[0-9a-f]{64}$/),
          previous_digest: null,
        },
      },
    ])
    // The digest is the stored content hash, never the secret.
    const row = await t.db
      .selectFrom('clients')
      .select('content_hash')
      .where('client_id', '=', 'audited')
      .executeTakeFirstOrThrow()
    expect(created[0]?.data).toMatchObject({ digest: row.content_hash })
    expect(JSON.stringify(created)).not.toContain('audited-secret')

    // Unchanged: nothing.
    await apply(dir, { actor: 'cli:ops' })
    expect(await events('audited')).toHaveLength(2)

    // A changed policy path is its next version; a rotated secret changes the client but not its digest.
    writeFileSync(
      join(dir, 'a.yaml'),
      `${client('audited', 'docs:read').replace('audited-secret-0123456789', 'audited-rotated-secret-0000')}---
apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: audited }
spec:
  bindings:
    - { client: audited, resource: 'https://audited-rs.test/', grantType: client_credentials }
  tokenLifetime: 1m
`,
    )
    await apply(dir, { actor: 'serve' })
    const digests = created.map((event) => (event.data as { digest: string }).digest)
    const [, , client2, path2] = await events('audited')
    expect(client2).toMatchObject({ type: 'document.updated', actor: 'serve', data: { kind: 'Client', version: null } })
    expect(client2?.data).toMatchObject({ digest: digests[0], previous_digest: digests[0] })
    expect(path2).toMatchObject({
      type: 'document.updated',
      actor: 'serve',
      data: { kind: 'PolicyPath', version: 2, previous_digest: digests[1] },
    })
  })
})
