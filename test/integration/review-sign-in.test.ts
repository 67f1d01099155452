// An adversarial review of sign-in (issue 12), each finding a test against the real app over real HTTP:
// the upstream callback in a browser that sends cookies only to their Path, a refused token request that
// must not spend the code or refresh token it presented, introspection by a client with no credential,
// and the admin API out of reach of a person's grant.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyDocuments } from '../../src/manifests/apply.ts'
import { rowCount, useDatabase } from '../support/database.ts'
import { ACCESS_TOKEN, introspect, post, TOKEN_EXCHANGE } from '../support/oauth.ts'
import { AGENT_APP, PASSWORDS, peopleDocuments, TICKETS, WEB_APP, WIKI } from '../support/people.ts'
import { TEST_APPLY, useServer } from '../support/server.ts'
import {
  authorizationUrl,
  authorize,
  browse,
  CookieJar,
  follow,
  pkce,
  submitConsent,
  tokenRequest as sendTokenRequest,
} from '../support/sign-in.ts'
import { signInUpstream, startUpstreamIdp, type UpstreamIdp } from '../support/upstream-idp.ts'

const PUBLIC_ADMIN = { id: 'public-admin', redirect: 'https://console.test/callback' }
const READER = { id: 'public-reader', redirect: 'https://reader.test/callback' }
const HANDBOOK = 'https://handbook.test/'

/** A public client holding mandate:admin, and one named as an introspector: both apply today. */
function reviewDocuments(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-review-'))
  writeFileSync(
    join(dir, 'clients.yaml'),
    `apiVersion: mandate/v1
kind: Client
metadata: { name: ${PUBLIC_ADMIN.id} }
spec:
  profile: app
  grantTypes: [authorization_code]
  redirectUris: [${PUBLIC_ADMIN.redirect}]
  scopes: [mandate:admin, tickets:read]
---
apiVersion: mandate/v1
kind: Client
metadata: { name: ${READER.id} }
spec:
  profile: app
  grantTypes: [authorization_code]
  redirectUris: [${READER.redirect}]
  scopes: [handbook:read]
`,
  )
  writeFileSync(
    join(dir, 'resources.yaml'),
    `apiVersion: mandate/v1
kind: Resource
metadata: { name: handbook }
spec:
  uri: ${HANDBOOK}
  scopes: [handbook:read]
  introspectors: [rs-tickets, ${READER.id}]
`,
  )
  return dir
}

const t = useDatabase()
const server = useServer(t, { apply: [...(await peopleDocuments()), reviewDocuments()] })
const carol = { username: 'carol', password: PASSWORDS.carol }

const tokenRequest = (params: Record<string, string>, client: { id: string; secret?: string } = WEB_APP) =>
  sendTokenRequest(server.url, client, params)

/** Carol's code at `client`, with its verifier. */
async function codeFor(
  request: { scope: string; resource?: string | string[]; prompt?: string },
  client: { id: string; redirect: string } = WEB_APP,
) {
  const { verifier, challenge } = pkce()
  const { redirect } = await authorize(
    server.issuer,
    {
      client_id: client.id,
      redirect_uri: client.redirect,
      ...request,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    },
    carol,
  )
  return { code: redirect.searchParams.get('code') as string, verifier }
}

async function redeem(
  request: { scope: string; resource?: string | string[]; prompt?: string },
  client: { id: string; redirect: string; secret?: string } = AGENT_APP,
) {
  const { code, verifier } = await codeFor(request, client)
  const response = await tokenRequest(
    { grant_type: 'authorization_code', code, redirect_uri: client.redirect, code_verifier: verifier },
    client,
  )
  const body = (await response.json()) as Record<string, string>
  expect(response.status, JSON.stringify(body)).toBe(200)
  return body
}

describe('upstream sign-in in a browser (cookies go only where their Path allows)', () => {
  let idp: UpstreamIdp
  beforeAll(async () => {
    idp = await startUpstreamIdp({
      clients: [{ clientId: 'mandate', clientSecret: 'company-secret' }],
      redirectUri: `${server.issuer}/login/callback`,
    })
    idp.accounts.set('g-1', { preferred_username: 'grace', name: 'Grace Upstream' })
    const dir = mkdtempSync(join(tmpdir(), 'mandate-review-issuer-'))
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
    expect((await applyDocuments(t.db, [dir], TEST_APPLY)).findings).toEqual([])
  })
  afterAll(() => idp?.close())

  const toProvider = async (jar: CookieJar) => {
    const page = await follow(
      jar,
      authorizationUrl(server.issuer, {
        client_id: WEB_APP.id,
        redirect_uri: WEB_APP.redirect,
        scope: 'openid tickets:read',
        resource: TICKETS,
        state: 'up',
        code_challenge: pkce().challenge,
        code_challenge_method: 'S256',
      }),
      server.issuer,
    )
    const link = /href="(\/interaction\/[^"]+\/upstream\/company)"/.exec(page.html)?.[1] as string
    const response = await browse(jar, `${server.issuer}${link}`)
    expect(response.status).toBe(303)
    return new URL(response.headers.get('location') as string)
  }

  // oidc-provider sets the interaction cookie with Path=/interaction/<uid>: a browser never sends it to
  // /login/callback, so the callback could never find the person's interaction.
  it('comes back from the provider to the consent page, and the app gets a token for the new user', async () => {
    const jar = new CookieJar()
    const callback = await signInUpstream(await toProvider(jar), {
      login: 'g-1',
      redirectUri: `${server.issuer}/login/callback`,
    })
    const back = await follow(jar, callback.href, server.issuer)
    expect(back.response.status, back.html.slice(0, 400)).toBe(200)
    expect(back.html).toContain('>Allow</button>')
    const done = await submitConsent(jar, back, server.issuer, 'allow')
    expect(done.leftTo?.searchParams.get('state')).toBe('up')
    expect(done.leftTo?.searchParams.get('code')).toBeTruthy()
  })

  it('spends nothing and creates no one when the callback reaches a browser without the interaction', async () => {
    idp.accounts.set('h-1', { preferred_username: 'heidi' })
    const callback = await signInUpstream(await toProvider(new CookieJar()), {
      login: 'h-1',
      redirectUri: `${server.issuer}/login/callback`,
    })
    const logins = await rowCount(t.db, 'upstream_logins')
    const elsewhere = await follow(new CookieJar(), callback.href, server.issuer)
    expect(elsewhere.response.status).toBe(400)
    expect(elsewhere.html).toContain('This sign-in has expired')
    expect(elsewhere.leftTo).toBeUndefined()
    // Neither the state spent nor the user created: the callback's owner may still use it.
    expect(await rowCount(t.db, 'upstream_logins')).toBe(logins)
    expect(await t.db.selectFrom('users').select('username').where('username', '=', 'heidi').execute()).toEqual([])
  })
})

describe('a refused token request spends nothing (RFC 6749 §5.2)', () => {
  it('keeps the refresh token and its grant after a refresh refused with invalid_target', async () => {
    const body = await redeem({ scope: 'offline_access tickets:read', resource: TICKETS, prompt: 'consent' })
    const tokens = await rowCount(t.db, 'issued_tokens')
    // The agent app holds nothing at the wiki: refused after oidc-provider had rotated the refresh token.
    const refused = await tokenRequest(
      { grant_type: 'refresh_token', refresh_token: body.refresh_token as string, resource: WIKI },
      AGENT_APP,
    )
    expect(refused.status).toBe(400)
    expect(await refused.json()).toEqual({
      error: 'invalid_target',
      error_description: 'resource indicator is missing, or unknown',
    })
    expect(await rowCount(t.db, 'issued_tokens')).toBe(tokens)
    // The client retries with the refresh token it still holds: no reuse, nothing revoked.
    const retried = await tokenRequest(
      { grant_type: 'refresh_token', refresh_token: body.refresh_token as string },
      AGENT_APP,
    )
    const retriedBody = (await retried.json()) as Record<string, string>
    expect(retried.status, JSON.stringify(retriedBody)).toBe(200)
    expect(await introspect(server.url, body.access_token as string)).toMatchObject({ active: true, sub: 'carol' })
    expect(await introspect(server.url, retriedBody.access_token as string)).toMatchObject({ active: true })
    // Reuse detection is untouched: the refresh token just used is spent, and a second use revokes all.
    const reuse = await tokenRequest(
      { grant_type: 'refresh_token', refresh_token: body.refresh_token as string },
      AGENT_APP,
    )
    expect(reuse.status).toBe(400)
    expect(await introspect(server.url, retriedBody.access_token as string)).toEqual({ active: false })
  })

  it('keeps a code usable after its redemption was refused with invalid_target', async () => {
    const { code, verifier } = await codeFor({ scope: 'tickets:read', resource: TICKETS }, AGENT_APP)
    const params = { grant_type: 'authorization_code', code, redirect_uri: AGENT_APP.redirect, code_verifier: verifier }
    const refused = await tokenRequest({ ...params, resource: WIKI }, AGENT_APP)
    expect(refused.status).toBe(400)
    expect(((await refused.json()) as { error: string }).error).toBe('invalid_target')
    const redeemed = await tokenRequest(params, AGENT_APP)
    const body = (await redeemed.json()) as Record<string, string>
    expect(redeemed.status, JSON.stringify(body)).toBe(200)
    expect(await introspect(server.url, body.access_token as string)).toMatchObject({ active: true })
    // Still used once: a third presentation is a reuse.
    expect((await tokenRequest(params, AGENT_APP)).status).toBe(400)
    expect(await introspect(server.url, body.access_token as string)).toEqual({ active: false })
  })
})

describe('refresh token reuse under concurrency (RFC 9700 §4.14.2)', () => {
  // The request that loses the consume revokes the grant at once, while the one that won is still issuing:
  // the winner's access token was written after the revocation ran, and stayed active everywhere but at
  // introspection (which looks the grant up itself). Whoever held the stolen refresh token could exchange it.
  it('leaves no token of the revoked grant active, not even the one the winning request issued', async () => {
    for (let round = 0; round < 6; round++) {
      const body = await redeem({ scope: 'offline_access tickets:read', resource: TICKETS, prompt: 'consent' })
      const answers = await Promise.all(
        [1, 2].map(() =>
          tokenRequest({ grant_type: 'refresh_token', refresh_token: body.refresh_token as string }, AGENT_APP),
        ),
      )
      const won = answers.filter((response) => response.status === 200)
      expect(won.length).toBeLessThanOrEqual(1)
      for (const answer of won) {
        const issued = (await answer.json()) as Record<string, string>
        const tokens = await rowCount(t.db, 'issued_tokens')
        const exchanged = await post(
          `${server.url}/token`,
          {
            grant_type: TOKEN_EXCHANGE,
            subject_token: issued.access_token as string,
            subject_token_type: ACCESS_TOKEN,
            resource: TICKETS,
            scope: 'tickets:read',
          },
          { clientId: AGENT_APP.id, secret: AGENT_APP.secret },
        )
        expect(exchanged.status, await exchanged.text()).toBe(400)
        expect(await rowCount(t.db, 'issued_tokens')).toBe(tokens)
        const refreshed = await tokenRequest(
          { grant_type: 'refresh_token', refresh_token: issued.refresh_token as string },
          AGENT_APP,
        )
        expect(refreshed.status).toBe(400)
      }
    }
  })
})

describe('introspection needs a client that authenticates (RFC 7662 §2.1)', () => {
  it('tells a public client nothing, even one holding mandate:admin or named as an introspector', async () => {
    const tickets = await redeem({ scope: 'tickets:read', resource: TICKETS }, WEB_APP)
    const handbook = await redeem({ scope: 'handbook:read', resource: HANDBOOK }, READER)
    // The confidential introspector learns about the token, as before.
    expect(await introspect(server.url, handbook.access_token as string)).toMatchObject({ active: true, sub: 'carol' })
    for (const [caller, token] of [
      [PUBLIC_ADMIN.id, tickets.access_token],
      [READER.id, handbook.access_token],
    ] as const) {
      // No secret, no assertion: anyone can send this client_id.
      const response = await post(`${server.url}/token/introspection`, { token: token as string, client_id: caller })
      expect(response.status).toBe(200)
      expect(await response.json(), caller).toEqual({ active: false })
    }
  })
})

describe('the admin API is not reachable with a person grant', () => {
  it('grants no mandate:admin to a person, even at an app that holds it', async () => {
    const landing = await follow(
      new CookieJar(),
      authorizationUrl(server.issuer, {
        client_id: PUBLIC_ADMIN.id,
        redirect_uri: PUBLIC_ADMIN.redirect,
        scope: 'mandate:admin',
        resource: 'urn:mandate:admin',
        state: 'adm',
        code_challenge: pkce().challenge,
        code_challenge_method: 'S256',
      }),
      server.issuer,
    )
    // RFC 8707 §2: a resource the app may hold nothing at for a person is refused at the client.
    expect(landing.leftTo?.origin + (landing.leftTo?.pathname ?? '')).toBe(PUBLIC_ADMIN.redirect)
    expect(landing.leftTo?.searchParams.get('error')).toBe('invalid_target')
    expect(landing.leftTo?.searchParams.has('code')).toBe(false)

    // Its other scopes are unaffected.
    const body = await redeem({ scope: 'tickets:read', resource: TICKETS }, PUBLIC_ADMIN)
    expect(decodeJwt(body.access_token as string)).toMatchObject({ sub: 'carol', scope: 'tickets:read' })
  })
})
