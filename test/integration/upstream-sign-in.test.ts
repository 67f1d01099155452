// Upstream sign-in end to end, with real HTTP against a second OpenID provider (test/support/upstream-idp.ts):
// start → the provider's login and consent forms → its redirect to Mandate's callback → finish. The first
// sign-in creates the user, its identity and a user.created event; every refusal writes nothing.
import { createHash, generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { catalogSource } from '../../src/catalog/source.ts'
import { DependencyUnavailable } from '../../src/db/outage.ts'
import type { LoginIssuer } from '../../src/issuers/login.ts'
import { applyDocuments } from '../../src/manifests/apply.ts'
import { outboundFetch } from '../../src/outbound/fetch.ts'
import { type FinishDeps, finishUpstreamSignIn } from '../../src/upstream/finish.ts'
import { startUpstreamSignIn } from '../../src/upstream/start.ts'
import { rowCount, useDatabase } from '../support/database.ts'
import { TEST_APPLY } from '../support/server.ts'
import { signInUpstream, startUpstreamIdp, type UpstreamIdp } from '../support/upstream-idp.ts'

const t = useDatabase()
const REDIRECT = 'https://mandate.test/login/callback'
let offset = 0
const clock = { now: () => Math.floor(Date.now() / 1000) + offset }
let idp: UpstreamIdp
let gone: UpstreamIdp
let deps: FinishDeps
let closedPort: number

const issuerDoc = (name: string, issuer: string, jwksUri: string, clientId: string, secret: string) => `---
apiVersion: mandate/v1
kind: Issuer
metadata: { name: ${name}, description: Sign in with ${name} }
spec:
  issuer: ${issuer}
  jwksUri: ${jwksUri}
  algorithms: [ES256]
  login: { clientId: ${clientId}, clientSecret: ${secret} }
`

async function apply(text: string, outbound = TEST_APPLY.outbound) {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-upstream-'))
  writeFileSync(join(dir, 'docs.yaml'), text)
  return applyDocuments(t.db, [dir], { ...TEST_APPLY, outbound })
}

beforeAll(async () => {
  idp = await startUpstreamIdp({
    clients: [
      { clientId: 'mandate', clientSecret: 'secret-a' },
      { clientId: 'mandate-b', clientSecret: 'secret-b' },
    ],
    redirectUri: REDIRECT,
  })
  gone = await startUpstreamIdp({ clients: [{ clientId: 'mandate', clientSecret: 'secret-g' }], redirectUri: REDIRECT })
  const closed = createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  closedPort = (closed.address() as AddressInfo).port
  await new Promise((resolve) => closed.close(resolve))
  const applied = await apply(
    [
      issuerDoc('corp', idp.issuer, idp.jwksUri, 'mandate', 'secret-a'),
      // The same provider spelled with a trailing slash: discovery accepts it (the URLs are equal), but the
      // ID tokens' iss is not this document's issuer.
      issuerDoc('corp-slash', `${idp.issuer}/`, idp.jwksUri, 'mandate-b', 'secret-b'),
      issuerDoc('gone', gone.issuer, gone.jwksUri, 'mandate', 'secret-g'),
      issuerDoc('nowhere', `http://127.0.0.1:${closedPort}`, `http://127.0.0.1:${closedPort}/jwks`, 'm', 's'),
      `---
apiVersion: mandate/v1
kind: Client
metadata: { name: taken-name }
spec: { profile: service, secret: a-long-enough-secret-value, grantTypes: [client_credentials] }
`,
    ].join(''),
  )
  expect(applied.findings).toEqual([])
  const catalogs = catalogSource(t.db)
  deps = {
    db: t.db,
    clock,
    clockTolerance: 15,
    fetchOutbound: outboundFetch(TEST_APPLY.outbound),
    loginIssuer: async (name) => (await catalogs.current()).loginIssuer(name),
  }
  idp.accounts.set('alice', { email: 'alice@corp.test', name: 'Alice Smith', preferred_username: 'Alice.Smith' })
  idp.accounts.set('bob', { preferred_username: 'bob' })
  idp.accounts.set('carol', { preferred_username: 'taken-name' })
  idp.accounts.set('dave', { preferred_username: 'Not Valid!' })
})
afterAll(async () => {
  await idp?.close()
  await gone?.close()
})

const issuer = async (name: string): Promise<LoginIssuer> => {
  const found = await deps.loginIssuer(name)
  if (!found) throw new Error(`no login issuer ${name}`)
  return found
}

/** Start at `issuerName`, sign in upstream as `login`: the callback URL the provider sends the person to. */
async function callback(issuerName: string, login: string, interactionUid = 'interaction-1', decline = false) {
  const url = await startUpstreamSignIn(deps, {
    issuer: await issuer(issuerName),
    interactionUid,
    redirectUri: REDIRECT,
  })
  return signInUpstream(url, { login, redirectUri: REDIRECT, decline })
}

const finish = (callbackUrl: URL) => finishUpstreamSignIn(deps, { callbackUrl, redirectUri: REDIRECT })

const tables = ['users', 'user_identities', 'audit_events', 'upstream_logins'] as const
const written = async () =>
  Object.fromEntries(await Promise.all(tables.map(async (table) => [table, await rowCount(t.db, table)])))

/** The users and identities as rows, to compare before and after a refusal. */
const people = async () => ({
  users: await t.db.selectFrom('users').selectAll().orderBy('username').execute(),
  identities: await t.db.selectFrom('user_identities').selectAll().orderBy('username').execute(),
})

const derived = (issuerName: string, sub: string) =>
  `${issuerName}-${createHash('sha256').update(sub).digest('hex').slice(0, 16)}`

describe('catalog.loginIssuers', () => {
  it('lists the issuers that sign people in, with their login', async () => {
    const listed = (await catalogSource(t.db).current()).loginIssuers()
    expect(listed.map((row) => [row.name, row.description, row.issuer, row.login])).toEqual([
      [
        'corp',
        'Sign in with corp',
        idp.issuer,
        { clientId: 'mandate', clientSecret: 'secret-a', scopes: ['openid', 'profile', 'email'] },
      ],
      [
        'corp-slash',
        'Sign in with corp-slash',
        `${idp.issuer}/`,
        { clientId: 'mandate-b', clientSecret: 'secret-b', scopes: ['openid', 'profile', 'email'] },
      ],
      [
        'gone',
        'Sign in with gone',
        gone.issuer,
        { clientId: 'mandate', clientSecret: 'secret-g', scopes: ['openid', 'profile', 'email'] },
      ],
      [
        'nowhere',
        'Sign in with nowhere',
        `http://127.0.0.1:${closedPort}`,
        { clientId: 'm', clientSecret: 's', scopes: ['openid', 'profile', 'email'] },
      ],
    ])
  })
})

describe('startUpstreamSignIn', () => {
  it('redirects to the provider with code, S256 PKCE, state and nonce, and keeps them for 10 minutes', async () => {
    const before = clock.now()
    const url = await startUpstreamSignIn(deps, {
      issuer: await issuer('corp'),
      interactionUid: 'i-start',
      redirectUri: REDIRECT,
    })
    expect(url.origin + url.pathname).toBe(`${idp.issuer}/auth`)
    const params = Object.fromEntries(url.searchParams)
    expect(params).toEqual({
      client_id: 'mandate',
      redirect_uri: REDIRECT,
      response_type: 'code',
      scope: 'openid profile email',
      state: expect.stringMatching(/^[\w-]{43}$/),
      nonce: expect.stringMatching(/^[\w-]{43}$/),
      code_challenge: expect.stringMatching(/^[\w-]{43}$/),
      code_challenge_method: 'S256',
    })
    const row = await t.db
      .selectFrom('upstream_logins')
      .selectAll()
      .where('state', '=', params.state as string)
      .executeTakeFirstOrThrow()
    expect(row).toMatchObject({ issuer: 'corp', interaction_uid: 'i-start', nonce: params.nonce })
    expect(createHash('sha256').update(row.code_verifier).digest('base64url')).toBe(params.code_challenge)
    expect(row.expires_at.getTime() / 1000).toBeGreaterThanOrEqual(before + 600)
    expect(row.expires_at.getTime() / 1000).toBeLessThanOrEqual(clock.now() + 600)
    await t.db.deleteFrom('upstream_logins').execute()
  })

  it('fails closed when the provider cannot be reached, writing no state', async () => {
    const before = await written()
    await expect(
      startUpstreamSignIn(deps, { issuer: await issuer('nowhere'), interactionUid: 'i-x', redirectUri: REDIRECT }),
    ).rejects.toBeInstanceOf(DependencyUnavailable)
    expect(await written()).toEqual(before)
  })
})

describe('finishUpstreamSignIn', () => {
  it('creates the user at the first sign-in, with its identity and a user.created event', async () => {
    const url = await callback('corp', 'alice', 'interaction-alice')
    expect(url.origin + url.pathname).toBe(REDIRECT)
    expect([...url.searchParams.keys()].sort()).toEqual(['code', 'iss', 'state'])
    const before = await written()

    expect(await finish(url)).toEqual({
      ok: true,
      interactionUid: 'interaction-alice',
      username: 'alice.smith',
      created: true,
    })

    expect(await written()).toEqual({
      ...before,
      users: before.users + 1,
      user_identities: before.user_identities + 1,
      audit_events: before.audit_events + 1,
      upstream_logins: before.upstream_logins - 1,
    })
    const user = await t.db
      .selectFrom('users')
      .selectAll()
      .where('username', '=', 'alice.smith')
      .executeTakeFirstOrThrow()
    expect(user).toMatchObject({
      email: 'alice@corp.test',
      display_name: 'Alice Smith',
      password_hash: null,
      source: 'upstream',
      disabled_at: null,
    })
    const identity = await t.db
      .selectFrom('user_identities')
      .selectAll()
      .where('username', '=', 'alice.smith')
      .executeTakeFirstOrThrow()
    expect(identity).toMatchObject({ issuer: 'corp', upstream_sub: 'alice', upstream_iss: idp.issuer })
    const event = await t.db
      .selectFrom('audit_events')
      .selectAll()
      .where('type', '=', 'user.created')
      .executeTakeFirstOrThrow()
    expect(event).toMatchObject({
      actor: 'upstream:corp',
      subject: 'alice.smith',
      data: {
        username: 'alice.smith',
        source: 'upstream',
        issuer: 'corp',
        upstream_iss: idp.issuer,
        upstream_sub: 'alice',
      },
    })
  })

  it('maps a later sign-in to the same user, refreshing its email and name and its sign-in time', async () => {
    idp.accounts.set('alice', {
      email: 'alice.smith@corp.test',
      name: 'Alice B. Smith',
      preferred_username: 'someone-else',
    })
    offset = 5
    const url = await callback('corp', 'alice', 'interaction-again')
    const before = await written()

    expect(await finish(url)).toEqual({
      ok: true,
      interactionUid: 'interaction-again',
      username: 'alice.smith',
      created: false,
    })

    expect(await written()).toEqual({ ...before, upstream_logins: before.upstream_logins - 1 })
    const user = await t.db
      .selectFrom('users')
      .selectAll()
      .where('username', '=', 'alice.smith')
      .executeTakeFirstOrThrow()
    expect(user).toMatchObject({ email: 'alice.smith@corp.test', display_name: 'Alice B. Smith' })
    expect(user.updated_at.getTime()).toBeGreaterThan(user.created_at.getTime())
    const identity = await t.db
      .selectFrom('user_identities')
      .selectAll()
      .where('username', '=', 'alice.smith')
      .executeTakeFirstOrThrow()
    expect(identity.last_sign_in_at.getTime()).toBeGreaterThan(identity.created_at.getTime())
    offset = 0
  })

  it('refuses a replayed callback (a state is used once) and writes nothing', async () => {
    const url = await callback('corp', 'alice')
    expect((await finish(url)).ok).toBe(true)
    const before = { ...(await written()), ...(await people()) }

    expect(await finish(url)).toEqual({ ok: false, reason: 'state_unknown' })

    expect({ ...(await written()), ...(await people()) }).toEqual(before)
  })

  it('refuses an expired state and a callback without state', async () => {
    const url = await callback('corp', 'alice')
    const before = { ...(await written()), ...(await people()) }
    offset = 601
    expect(await finish(url)).toEqual({ ok: false, reason: 'state_unknown' })
    offset = 0
    const stateless = new URL(url)
    stateless.searchParams.delete('state')
    expect(await finish(stateless)).toEqual({ ok: false, reason: 'state_missing' })
    expect({ ...(await written()), ...(await people()) }).toEqual(before)
    await t.db.deleteFrom('upstream_logins').execute()
  })

  it('gives a new person their preferred_username, or a derived name when it is taken by a client or invalid', async () => {
    expect(await finish(await callback('corp', 'bob', 'i-bob'))).toMatchObject({
      ok: true,
      username: 'bob',
      created: true,
    })
    expect(await finish(await callback('corp', 'carol', 'i-carol'))).toMatchObject({
      ok: true,
      username: derived('corp', 'carol'),
      created: true,
    })
    expect(await finish(await callback('corp', 'dave', 'i-dave'))).toMatchObject({
      ok: true,
      username: derived('corp', 'dave'),
      created: true,
    })
    // erin asks for a name another person already has: she is not signed in as bob.
    idp.accounts.set('erin', { preferred_username: 'BOB' })
    expect(await finish(await callback('corp', 'erin', 'i-erin'))).toMatchObject({
      ok: true,
      username: derived('corp', 'erin'),
      created: true,
    })
    const identities = await t.db
      .selectFrom('user_identities')
      .select(['upstream_sub', 'username'])
      .where('upstream_sub', 'in', ['bob', 'carol', 'dave', 'erin'])
      .orderBy('upstream_sub')
      .execute()
    expect(identities).toEqual([
      { upstream_sub: 'bob', username: 'bob' },
      { upstream_sub: 'carol', username: derived('corp', 'carol') },
      { upstream_sub: 'dave', username: derived('corp', 'dave') },
      { upstream_sub: 'erin', username: derived('corp', 'erin') },
    ])
  })

  it('ends concurrent first sign-ins of one identity with one user', async () => {
    idp.accounts.set('frank', { preferred_username: 'frank' })
    const urls = await Promise.all([1, 2, 3].map((n) => callback('corp', 'frank', `i-frank-${n}`)))
    const before = await written()

    const results = await Promise.all(urls.map(finish))

    expect(results.map((r) => r.ok && r.username)).toEqual(['frank', 'frank', 'frank'])
    expect(results.filter((r) => r.ok && r.created)).toHaveLength(1)
    expect(await written()).toEqual({
      users: before.users + 1,
      user_identities: before.user_identities + 1,
      audit_events: before.audit_events + 1,
      upstream_logins: before.upstream_logins - 3,
    })
  })

  it('refuses a disabled user and writes nothing', async () => {
    await sql`update users set disabled_at = now() where username = 'bob'`.execute(t.db)
    const url = await callback('corp', 'bob', 'i-bob-disabled')
    const before = { ...(await written()), ...(await people()) }

    expect(await finish(url)).toEqual({ ok: false, interactionUid: 'i-bob-disabled', reason: 'user_disabled' })

    expect({ ...(await written()), ...(await people()), upstream_logins: before.upstream_logins }).toEqual(before)
    expect(await rowCount(t.db, 'upstream_logins')).toBe(before.upstream_logins - 1)
    await sql`update users set disabled_at = null where username = 'bob'`.execute(t.db)
  })

  it('handles the provider answering error=access_denied', async () => {
    const url = await callback('corp', 'grace', 'i-declined', true)
    expect(url.searchParams.get('error')).toBe('access_denied')
    const before = { ...(await written()), ...(await people()) }

    expect(await finish(url)).toEqual({
      ok: false,
      interactionUid: 'i-declined',
      reason: 'upstream_denied',
      detail: 'access_denied',
    })

    expect({ ...(await written()), ...(await people()), upstream_logins: before.upstream_logins }).toEqual(before)
    expect(await rowCount(t.db, 'upstream_logins')).toBe(before.upstream_logins - 1)
    expect(await finish(url)).toEqual({ ok: false, reason: 'state_unknown' })
  })

  describe('refuses, writing no user', () => {
    const refused = async (url: URL, expected: { reason: string; interactionUid: string; detail?: unknown }) => {
      const before = { ...(await people()), audit: await rowCount(t.db, 'audit_events') }
      const result = await finish(url)
      expect(result).toEqual({ ok: false, detail: expect.any(String), ...expected })
      expect({ ...(await people()), audit: await rowCount(t.db, 'audit_events') }).toEqual(before)
      expect(
        await t.db.selectFrom('users').select('username').where('username', '=', 'henry').executeTakeFirst(),
      ).toBeUndefined()
    }
    beforeAll(() => {
      idp.accounts.set('henry', { preferred_username: 'henry' })
    })

    it('an ID token whose iss is not the Issuer document’s issuer', async () => {
      const url = await callback('corp-slash', 'henry', 'i-iss')
      await refused(url, {
        reason: 'id_token_invalid',
        interactionUid: 'i-iss',
        detail: expect.stringContaining('iss'),
      })
    })

    it('an ID token whose nonce is not the one sent (a tampered state row)', async () => {
      const url = await callback('corp', 'henry', 'i-nonce')
      await t.db
        .updateTable('upstream_logins')
        .set({ nonce: 'not-the-nonce-sent' })
        .where('state', '=', url.searchParams.get('state') as string)
        .execute()
      await refused(url, {
        reason: 'id_token_invalid',
        interactionUid: 'i-nonce',
        detail: expect.stringContaining('nonce'),
      })
    })

    it('an ID token not signed by a key of the Issuer document, or with an algorithm it does not list', async () => {
      const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' })
      const corp = issuerDoc('corp', idp.issuer, idp.jwksUri, 'mandate', 'secret-a')
      const inline = `jwks: { keys: [${JSON.stringify({ ...other, kid: 'upstream-1' })}] }`
      expect((await apply(corp.replace(`jwksUri: ${idp.jwksUri}`, inline))).findings).toEqual([])
      await refused(await callback('corp', 'henry', 'i-key'), {
        reason: 'id_token_invalid',
        interactionUid: 'i-key',
        detail: expect.stringContaining('JWSSignatureVerificationFailed'),
      })
      expect((await apply(corp.replace('[ES256]', '[RS256]'))).findings).toEqual([])
      await refused(await callback('corp', 'henry', 'i-alg'), {
        reason: 'id_token_invalid',
        interactionUid: 'i-alg',
        detail: expect.stringContaining('JOSEAlgNotAllowed'),
      })
      expect((await apply(corp)).findings).toEqual([])
    })

    it('a code redeemed with another PKCE verifier (a tampered state row)', async () => {
      const url = await callback('corp', 'henry', 'i-pkce')
      await t.db
        .updateTable('upstream_logins')
        .set({ code_verifier: 'x'.repeat(43) })
        .where('state', '=', url.searchParams.get('state') as string)
        .execute()
      await refused(url, {
        reason: 'code_rejected',
        interactionUid: 'i-pkce',
        detail: expect.stringContaining('invalid_grant'),
      })
    })

    it('a code redeemed by another client (the state row moved to another issuer)', async () => {
      const url = await callback('corp', 'henry', 'i-client')
      await t.db
        .updateTable('upstream_logins')
        .set({ issuer: 'corp-slash' })
        .where('state', '=', url.searchParams.get('state') as string)
        .execute()
      await refused(url, {
        reason: 'code_rejected',
        interactionUid: 'i-client',
        detail: expect.stringContaining('invalid_grant'),
      })
    })

    it('an iss response parameter that is not the provider’s (RFC 9207)', async () => {
      const url = await callback('corp', 'henry', 'i-iss-param')
      url.searchParams.set('iss', 'https://evil.test')
      await refused(url, { reason: 'response_invalid', interactionUid: 'i-iss-param' })
    })

    it('a state whose Issuer document no longer signs people in', async () => {
      const url = await callback('corp', 'henry', 'i-gone-issuer')
      await t.db
        .updateTable('upstream_logins')
        .set({ issuer: 'no-such-issuer' })
        .where('state', '=', url.searchParams.get('state') as string)
        .execute()
      await refused(url, { reason: 'issuer_unknown', interactionUid: 'i-gone-issuer', detail: 'no-such-issuer' })
    })

    it('a provider that stopped answering (fails closed)', async () => {
      const url = await callback('gone', 'henry', 'i-unreachable')
      await gone.close()
      await refused(url, { reason: 'upstream_unavailable', interactionUid: 'i-unreachable' })
    })
  })
})

describe('apply', () => {
  it('refuses an Issuer with login whose issuer the outbound rules forbid (its metadata is fetched there)', async () => {
    const result = await apply(issuerDoc('loopback', 'http://127.0.0.2:1', 'https://idp.example/jwks', 'm', 's'), {
      requireHttps: false,
      allowHosts: [],
    })
    expect(result.findings).toEqual([
      expect.objectContaining({
        path: 'spec.issuer',
        message: expect.stringContaining('must not point at a loopback address (127.0.0.2)'),
      }),
    ])
  })

  it('refuses a login without openid', async () => {
    const result = await apply(
      issuerDoc('no-openid', 'https://idp.example', 'https://idp.example/jwks', 'm', 's').replace(
        'clientSecret: s }',
        'clientSecret: s, scopes: [profile] }',
      ),
    )
    expect(result.findings).toEqual([
      expect.objectContaining({ path: 'spec.login.scopes', message: 'scopes must include openid' }),
    ])
  })
})

describe('identities are (iss, sub), not the Issuer document', () => {
  it('refuses an Issuer whose issuer URL another Issuer has (a finding, nothing written)', async () => {
    const before = await written()
    const result = await apply(issuerDoc('corp-twin', idp.issuer, idp.jwksUri, 'mandate', 'secret-a'))
    expect(result.findings).toEqual([
      expect.objectContaining({ path: 'spec.issuer', message: 'issuer corp already uses this issuer URL' }),
    ])
    expect(await written()).toEqual(before)
  })

  it('gives the people of a provider an Issuer document is pointed at new users, never the old provider’s', async () => {
    const [first, second] = await Promise.all(
      ['secret-1', 'secret-2'].map((secret) =>
        startUpstreamIdp({ clients: [{ clientId: 'mandate', clientSecret: secret }], redirectUri: REDIRECT }),
      ),
    )
    try {
      for (const provider of [first, second]) provider?.accounts.set('zed', { preferred_username: 'zed' })
      const [a, b] = [first as UpstreamIdp, second as UpstreamIdp]
      expect((await apply(issuerDoc('moving', a.issuer, a.jwksUri, 'mandate', 'secret-1'))).findings).toEqual([])
      expect(await finish(await callback('moving', 'zed', 'i-moving-1'))).toMatchObject({
        ok: true,
        username: 'zed',
        created: true,
      })
      expect((await apply(issuerDoc('moving', b.issuer, b.jwksUri, 'mandate', 'secret-2'))).findings).toEqual([])
      // The same sub at another provider is another person (OpenID Connect Core §5.7).
      expect(await finish(await callback('moving', 'zed', 'i-moving-2'))).toMatchObject({
        ok: true,
        username: derived('moving', 'zed'),
        created: true,
      })
      const identities = await t.db
        .selectFrom('user_identities')
        .select(['upstream_iss', 'username', 'issuer'])
        .where('upstream_sub', '=', 'zed')
        .orderBy('username')
        .execute()
      expect(identities).toEqual([
        { upstream_iss: b.issuer, username: derived('moving', 'zed'), issuer: 'moving' },
        { upstream_iss: a.issuer, username: 'zed', issuer: 'moving' },
      ])
    } finally {
      await Promise.all([first?.close(), second?.close()])
    }
  })
})
