// Upstream sign-in through the pages: the sign-in page offers the company provider, the person signs in
// there (a second OpenID provider started by the test), comes back to /login/callback, consents, and the
// app gets a token whose subject is the Mandate user created at that first sign-in.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyDocuments } from '../../src/manifests/apply.ts'
import { rowCount, useDatabase } from '../support/database.ts'
import { basic } from '../support/oauth.ts'
import { peopleDocuments, TICKETS, WEB_APP } from '../support/people.ts'
import { TEST_APPLY, useServer } from '../support/server.ts'
import { authorizationUrl, browse, CookieJar, follow, pkce, submitConsent } from '../support/sign-in.ts'
import { signInUpstream, startUpstreamIdp, type UpstreamIdp } from '../support/upstream-idp.ts'

const t = useDatabase()
const server = useServer(t, { apply: await peopleDocuments() })
let idp: UpstreamIdp

beforeAll(async () => {
  idp = await startUpstreamIdp({
    clients: [{ clientId: 'mandate', clientSecret: 'company-secret' }],
    redirectUri: `${server.issuer}/login/callback`,
  })
  idp.accounts.set('f-123', { preferred_username: 'Frank', email: 'frank@company.test', name: 'Frank Upstream' })
  const dir = mkdtempSync(join(tmpdir(), 'mandate-upstream-pages-'))
  writeFileSync(
    join(dir, 'issuer.yaml'),
    `apiVersion: mandate/v1
kind: Issuer
metadata: { name: company, description: Company SSO }
spec:
  issuer: ${idp.issuer}
  jwksUri: ${idp.jwksUri}
  algorithms: [ES256]
  login: { clientId: mandate, clientSecret: company-secret }
`,
  )
  const applied = await applyDocuments(t.db, [dir], TEST_APPLY)
  expect(applied.findings).toEqual([])
})
afterAll(() => idp?.close())

async function startAtMandate(jar: CookieJar, challenge: string) {
  return follow(
    jar,
    authorizationUrl(server.issuer, {
      client_id: WEB_APP.id,
      redirect_uri: WEB_APP.redirect,
      scope: 'openid profile tickets:read',
      resource: TICKETS,
      state: 'up',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }),
    server.issuer,
  )
}

describe('sign-in at the company provider, through the pages', () => {
  it('offers the provider, signs the person in there, creates the user, and issues for them', async () => {
    const jar = new CookieJar()
    const { verifier, challenge } = pkce()
    const page = await startAtMandate(jar, challenge)
    expect(page.html).toContain('Continue with Company SSO')
    const link = /href="(\/interaction\/[^"]+\/upstream\/company)"/.exec(page.html)?.[1] as string
    const toProvider = await browse(jar, `${server.issuer}${link}`)
    expect(toProvider.status).toBe(303)
    const callback = await signInUpstream(new URL(toProvider.headers.get('location') as string), {
      login: 'f-123',
      redirectUri: `${server.issuer}/login/callback`,
    })
    const back = await follow(jar, callback.href, server.issuer)
    expect(back.html).toContain('>Allow</button>')
    const done = await submitConsent(jar, back, server.issuer, 'allow')
    expect(done.leftTo?.searchParams.get('state')).toBe('up')
    const response = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(WEB_APP.id, WEB_APP.secret),
      },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: done.leftTo?.searchParams.get('code') as string,
        redirect_uri: WEB_APP.redirect,
        code_verifier: verifier,
      }),
    })
    const body = (await response.json()) as Record<string, string>
    expect(response.status, JSON.stringify(body)).toBe(200)
    // The subject is the Mandate user (named from preferred_username), the upstream identity recorded.
    expect(decodeJwt(body.access_token as string)).toMatchObject({ sub: 'frank', aud: TICKETS })
    expect(decodeJwt(body.id_token as string)).toMatchObject({ sub: 'frank', name: 'Frank Upstream' })
    const identity = await t.db
      .selectFrom('user_identities')
      .selectAll()
      .where('upstream_sub', '=', 'f-123')
      .executeTakeFirst()
    expect(identity).toMatchObject({ issuer: 'company', username: 'frank', upstream_iss: idp.issuer })
    const user = await t.db.selectFrom('users').selectAll().where('username', '=', 'frank').executeTakeFirst()
    expect(user).toMatchObject({ source: 'upstream', email: 'frank@company.test', password_hash: null })
  })

  it('signs no one in when the callback arrives in another browser (no interaction cookie of its own)', async () => {
    const jar = new CookieJar()
    const page = await startAtMandate(jar, pkce().challenge)
    const link = /href="(\/interaction\/[^"]+\/upstream\/company)"/.exec(page.html)?.[1] as string
    const toProvider = await browse(jar, `${server.issuer}${link}`)
    const callback = await signInUpstream(new URL(toProvider.headers.get('location') as string), {
      login: 'f-123',
      redirectUri: `${server.issuer}/login/callback`,
    })
    const sessions = await rowCount(t.db, 'oidc_payloads')
    const elsewhere = await follow(new CookieJar(), callback.href, server.issuer)
    expect(elsewhere.response.status).toBe(400)
    expect(elsewhere.html).toContain('This sign-in has expired')
    expect(elsewhere.leftTo).toBeUndefined()
    expect(await rowCount(t.db, 'oidc_payloads')).toBe(sessions)
  })

  it('comes back to the sign-in page with one message when the person declines at the provider', async () => {
    const jar = new CookieJar()
    const page = await startAtMandate(jar, pkce().challenge)
    const link = /href="(\/interaction\/[^"]+\/upstream\/company)"/.exec(page.html)?.[1] as string
    const toProvider = await browse(jar, `${server.issuer}${link}`)
    const callback = await signInUpstream(new URL(toProvider.headers.get('location') as string), {
      login: 'f-123',
      redirectUri: `${server.issuer}/login/callback`,
      decline: true,
    })
    const back = await follow(jar, callback.href, server.issuer)
    expect(back.response.status).toBe(200)
    expect(back.html).toContain('Signing in with your company account did not work')
    expect(back.html).toContain('<label for="password">Password</label>')
  })
})
