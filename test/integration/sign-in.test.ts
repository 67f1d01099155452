// People sign in at Mandate and apps get tokens with the standard flows (RFC 6749 §4.1 with PKCE, RFC 8707,
// OpenID Connect): every flow and refusal over real HTTP against the real app, its pages driven as a
// browser would (test/support/sign-in.ts).
import { decodeJwt } from 'jose'
import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { rowCount, useDatabase } from '../support/database.ts'
import { TOKEN_INVALID } from '../../src/oauth/descriptions.ts'
import { ACCESS_TOKEN, exchange, introspect, jtiOf, post, TOKEN_EXCHANGE } from '../support/oauth.ts'
import { AGENT_APP, NATIVE_APP, PASSWORDS, peopleDocuments, TICKETS, WEB_APP, WIKI } from '../support/people.ts'
import { useServer } from '../support/server.ts'
import { disableUser } from '../../src/users/disable.ts'
import { toDate } from '../../src/lib/clock.ts'
import {
  authorizationUrl,
  authorize,
  browse,
  CookieJar,
  csrfOf,
  follow,
  interactionUidOf,
  pkce,
  submitConsent,
  submitSignIn,
  startAuthorization,
  tokenRequest as sendTokenRequest,
} from '../support/sign-in.ts'

const t = useDatabase()
const server = useServer(t, {
  apply: await peopleDocuments(),
  env: { MANDATE_SIGN_IN__FAILURES_PER_USERNAME: '3', MANDATE_SIGN_IN__FAILURES_PER_ADDRESS: '200' },
})
// A second process on the same database: sessions and grants live in Postgres, so it honours them.
const second = useServer(t, { apply: [] })
const carol = { username: 'carol', password: PASSWORDS.carol }

const tokenRequest = (params: Record<string, string>, client: { id: string; secret?: string } = WEB_APP) =>
  sendTokenRequest(server.url, client, params)

/** The whole code flow for carol at the web app; the token response. */
async function signInAndRedeem(
  request: { scope: string; resource?: string; client?: typeof WEB_APP | typeof AGENT_APP },
  person = carol,
) {
  const client = request.client ?? WEB_APP
  const { verifier, challenge } = pkce()
  const { redirect, jar } = await authorize(
    server.issuer,
    {
      client_id: client.id,
      redirect_uri: client.redirect,
      scope: request.scope,
      ...(request.resource ? { resource: request.resource } : {}),
      state: 'state-1',
      ...(request.scope.split(' ').includes('openid') ? { nonce: 'nonce-1' } : {}),
      // OpenID Connect Core §11: offline_access is granted only with prompt=consent.
      ...(request.scope.split(' ').includes('offline_access') ? { prompt: 'consent' } : {}),
      code_challenge: challenge,
      code_challenge_method: 'S256',
    },
    person,
  )
  const code = redirect.searchParams.get('code')
  expect(code, redirect.href).toBeTruthy()
  const response = await tokenRequest(
    { grant_type: 'authorization_code', code: code as string, redirect_uri: client.redirect, code_verifier: verifier },
    client,
  )
  const body = (await response.json()) as Record<string, string | number>
  expect(response.status, JSON.stringify(body)).toBe(200)
  return { body, jar, redirect }
}

const auditCount = async (type: string, actor?: string) =>
  Number(
    (
      await sql<{ n: string }>`select count(*) as n from audit_events where type = ${type}
        and (${actor ?? null}::text is null or actor = ${actor ?? null})`.execute(t.db)
    ).rows[0]?.n,
  )

describe('discovery lists exactly what is served', () => {
  it('advertises the code flow with S256 PKCE, userinfo, logout and PAR', async () => {
    const metadata = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >
    expect(metadata).toMatchObject({
      authorization_endpoint: `${server.issuer}/auth`,
      userinfo_endpoint: `${server.issuer}/me`,
      end_session_endpoint: `${server.issuer}/session/end`,
      pushed_authorization_request_endpoint: `${server.issuer}/request`,
      code_challenge_methods_supported: ['S256'],
      response_types_supported: ['code'],
    })
    expect(metadata.grant_types_supported).toEqual([
      'client_credentials',
      'authorization_code',
      'refresh_token',
      TOKEN_EXCHANGE,
    ])
    expect(metadata).not.toHaveProperty('registration_endpoint')
    expect(metadata).not.toHaveProperty('device_authorization_endpoint')
    for (const endpoint of ['/reg', '/device']) expect((await fetch(`${server.url}${endpoint}`)).status).toBe(404)
  })
})

describe('authorization_code with PKCE', () => {
  it('signs carol in, asks her consent in plain words, and issues tokens the policy path narrows', async () => {
    const { verifier, challenge } = pkce()
    const jar = new CookieJar()
    const start = await follow(
      jar,
      authorizationUrl(server.issuer, {
        client_id: WEB_APP.id,
        redirect_uri: WEB_APP.redirect,
        scope: 'openid profile email offline_access tickets:read tickets:write wiki:read wiki:edit',
        prompt: 'consent',
        resource: [TICKETS, WIKI],
        state: 'xyz',
        nonce: 'n-0S6_WzA2Mj',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }),
      server.issuer,
    )
    expect(start.response.status).toBe(200)
    expect(start.html).toContain('<label for="username">Username</label>')
    expect(start.html).toContain('<label for="password">Password</label>')
    expect(start.html).toContain('>Sign in</button>')
    expect(start.html).toContain('Acme Web')
    // No script anywhere, and a policy that would refuse one.
    expect(start.html).not.toMatch(/<script|style=/i)
    expect(start.response.headers.get('content-security-policy')).toContain("default-src 'none'")
    expect(start.response.headers.get('content-security-policy')).not.toContain('unsafe-inline')
    // Not no-referrer: under it a browser posts the form with `Origin: null`, which the CSRF check refuses.
    expect(start.response.headers.get('referrer-policy')).toBe('same-origin')

    const consentPage = await submitSignIn(jar, start, server.issuer, 'Carol', carol.password)
    expect(consentPage.response.status).toBe(200)
    expect(consentPage.html).toContain('>Allow</button>')
    expect(consentPage.html).toContain('>Deny</button>')
    expect(consentPage.html).toContain('Allow Acme Web to act for you?')
    expect(consentPage.html).toContain('Read your wiki pages')
    expect(consentPage.html).toContain('<code>wiki:edit</code>')
    expect(consentPage.html).toContain('The company wiki')
    expect(consentPage.html).toContain('See your email address')
    // The path bound to (web-app, tickets, authorization_code) allows tickets:read alone: write is not offered.
    expect(consentPage.html).toContain('<code>tickets:read</code>')
    expect(consentPage.html).not.toContain('tickets:write')
    expect(consentPage.html).not.toContain('AI agent app')

    const done = await submitConsent(jar, consentPage, server.issuer, 'allow')
    expect(done.leftTo?.origin + (done.leftTo?.pathname ?? '')).toBe(WEB_APP.redirect)
    expect(done.leftTo?.searchParams.get('state')).toBe('xyz')
    expect(done.leftTo?.searchParams.get('iss')).toBe(server.issuer)
    const code = done.leftTo?.searchParams.get('code') as string

    const response = await tokenRequest({
      grant_type: 'authorization_code',
      code,
      redirect_uri: WEB_APP.redirect,
      code_verifier: verifier,
      resource: TICKETS,
    })
    const body = (await response.json()) as Record<string, string>
    expect(response.status, JSON.stringify(body)).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    const access = decodeJwt(body.access_token as string)
    expect(access).toMatchObject({
      iss: server.issuer,
      sub: 'carol',
      aud: TICKETS,
      client_id: WEB_APP.id,
      scope: 'tickets:read',
      policy_path: 'people/web-app',
    })
    expect(access).not.toHaveProperty('may_act')
    expect((access.exp as number) - (access.iat as number)).toBe(120)
    const id = decodeJwt(body.id_token as string)
    expect(id).toMatchObject({ iss: server.issuer, sub: 'carol', aud: WEB_APP.id, nonce: 'n-0S6_WzA2Mj' })
    expect(body.refresh_token).toBeTruthy()

    const row = await t.db
      .selectFrom('issued_tokens')
      .selectAll()
      .where('jti', '=', access.jti as string)
      .executeTakeFirstOrThrow()
    expect(row).toMatchObject({
      grant_type: 'authorization_code',
      sub: 'carol',
      client_id: WEB_APP.id,
      subject_issuer: null,
    })
    expect(row.grant_id).toBeTruthy()
    expect(await introspect(server.url, body.access_token as string)).toMatchObject({ active: true, sub: 'carol' })

    // The same grant yields the wiki token by naming it at the token endpoint (RFC 8707 §2.2).
    const wiki = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: body.refresh_token as string,
      resource: WIKI,
    })
    const wikiBody = (await wiki.json()) as Record<string, string>
    expect(wiki.status, JSON.stringify(wikiBody)).toBe(200)
    expect(decodeJwt(wikiBody.access_token as string)).toMatchObject({ aud: WIKI, scope: 'wiki:read wiki:edit' })
    expect(await auditCount('user.signed_in', 'carol')).toBeGreaterThan(0)
  })

  it('serves userinfo with a token for userinfo alone', async () => {
    const { body } = await signInAndRedeem({ scope: 'openid profile email' })
    expect(body.access_token).not.toMatch(/\./) // opaque: only userinfo takes it
    const me = await fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${body.access_token}` } })
    expect(me.status).toBe(200)
    expect(await me.json()).toEqual({
      sub: 'carol',
      preferred_username: 'carol',
      name: 'Carol Example',
      email: 'carol@example.test',
    })
    const row = await t.db
      .selectFrom('issued_tokens')
      .selectAll()
      .where('jti', '=', body.access_token as string)
      .executeTakeFirst()
    expect(row).toMatchObject({ sub: 'carol', aud: [`${server.issuer}/me`] })
    // A resource token is not a userinfo token.
    const resource = await signInAndRedeem({ scope: 'openid tickets:read', resource: TICKETS })
    const refused = await fetch(`${server.url}/me`, {
      headers: { authorization: `Bearer ${resource.body.access_token}` },
    })
    expect(refused.status).toBe(401)
  })

  it('lets a public client redeem its code with PKCE and no secret', async () => {
    const { body } = await signInAndRedeem({
      scope: 'tickets:read',
      resource: TICKETS,
      client: { ...NATIVE_APP, secret: '' } as unknown as typeof WEB_APP,
    })
    expect(decodeJwt(body.access_token as string)).toMatchObject({ client_id: NATIVE_APP.id, scope: 'tickets:read' })
  })

  it('accepts a pushed authorization request (RFC 9126)', async () => {
    const { challenge } = pkce()
    const pushed = await post(
      `${server.url}/request`,
      {
        response_type: 'code',
        client_id: WEB_APP.id,
        redirect_uri: WEB_APP.redirect,
        scope: 'openid',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      },
      { clientId: WEB_APP.id, secret: WEB_APP.secret },
    )
    const body = (await pushed.json()) as { request_uri: string; expires_in: number }
    expect(pushed.status, JSON.stringify(body)).toBe(201)
    const landing = await follow(
      new CookieJar(),
      `${server.issuer}/auth?client_id=${WEB_APP.id}&request_uri=${encodeURIComponent(body.request_uri)}`,
      server.issuer,
    )
    expect(landing.response.status).toBe(200)
    expect(landing.html).toContain('>Sign in</button>')
  })
})

describe('refusals', () => {
  const start = (params: Record<string, string | undefined>) =>
    follow(
      new CookieJar(),
      authorizationUrl(server.issuer, {
        client_id: WEB_APP.id,
        redirect_uri: WEB_APP.redirect,
        scope: 'openid',
        state: 's',
        ...params,
      }),
      server.issuer,
    )

  it('refuses an authorization request without PKCE, or with plain PKCE, at the client (invalid_request)', async () => {
    for (const params of [{}, { code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }]) {
      const landing = await start(params)
      expect(landing.leftTo?.origin + (landing.leftTo?.pathname ?? '')).toBe(WEB_APP.redirect)
      expect(landing.leftTo?.searchParams.get('error')).toBe('invalid_request')
      expect(landing.leftTo?.searchParams.get('state')).toBe('s')
      expect(landing.leftTo?.searchParams.has('code')).toBe(false)
    }
  })

  it('never redirects to an unregistered redirect_uri: a page says why', async () => {
    const before = await rowCount(t.db, 'oidc_payloads')
    const landing = await start({
      redirect_uri: 'https://evil.test/callback',
      code_challenge: pkce().challenge,
      code_challenge_method: 'S256',
    })
    expect(landing.leftTo).toBeUndefined()
    expect(landing.response.status).toBe(400)
    expect(landing.response.headers.get('location')).toBeNull()
    expect(landing.html).toContain('redirect_uri')
    expect(landing.html).not.toContain('evil.test/callback?')
    expect(await rowCount(t.db, 'oidc_payloads')).toBe(before)
  })

  it('refuses a code with a wrong verifier, or none, and writes no token', async () => {
    for (const verifier of [pkce().verifier, undefined]) {
      const { challenge } = pkce()
      const { redirect } = await authorize(
        server.issuer,
        {
          client_id: WEB_APP.id,
          redirect_uri: WEB_APP.redirect,
          scope: 'openid tickets:read',
          resource: TICKETS,
          code_challenge: challenge,
          code_challenge_method: 'S256',
        },
        carol,
      )
      const before = await rowCount(t.db, 'issued_tokens')
      const response = await tokenRequest({
        grant_type: 'authorization_code',
        code: redirect.searchParams.get('code') as string,
        redirect_uri: WEB_APP.redirect,
        ...(verifier ? { code_verifier: verifier } : {}),
      })
      expect(response.status).toBe(400)
      const body = (await response.json()) as Record<string, string>
      // RFC 7636 §4.6: a verifier that does not match, or none for a code bound to a challenge.
      expect(body.error).toBe('invalid_grant')
      expect(body).not.toHaveProperty('access_token')
      expect(await rowCount(t.db, 'issued_tokens')).toBe(before)
    }
  })

  it('answers a denied consent with access_denied and issues nothing', async () => {
    const jar = new CookieJar()
    const { challenge } = pkce()
    const first = await follow(
      jar,
      authorizationUrl(server.issuer, {
        client_id: WEB_APP.id,
        redirect_uri: WEB_APP.redirect,
        scope: 'openid tickets:read',
        resource: TICKETS,
        state: 'deny-me',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }),
      server.issuer,
    )
    const consent = await submitSignIn(jar, first, server.issuer, 'dave', PASSWORDS.dave)
    const grants = () =>
      sql<{ n: string }>`select count(*) as n from oidc_payloads where model in ('Grant', 'AuthorizationCode')
        and payload->>'accountId' = 'dave' and payload->>'clientId' = ${WEB_APP.id}`
        .execute(t.db)
        .then((result) => Number(result.rows[0]?.n))
    const tokens = await rowCount(t.db, 'issued_tokens')
    const denied = await submitConsent(jar, consent, server.issuer, 'deny')
    expect(denied.leftTo?.origin + (denied.leftTo?.pathname ?? '')).toBe(WEB_APP.redirect)
    expect(denied.leftTo?.searchParams.get('error')).toBe('access_denied')
    expect(denied.leftTo?.searchParams.get('state')).toBe('deny-me')
    expect(denied.leftTo?.searchParams.has('code')).toBe(false)
    expect(await grants()).toBe(0)
    expect(await rowCount(t.db, 'issued_tokens')).toBe(tokens)
  })

  it('answers a wrong password and an unknown user alike, then limits failures (429, Retry-After)', async () => {
    const attempt = async (username: string, password: string) => {
      const jar = new CookieJar()
      const page = await startAuthorization(server.issuer, jar, {
        client_id: WEB_APP.id,
        redirect_uri: WEB_APP.redirect,
      })
      const uid = interactionUidOf(page.url)
      const response = await browse(jar, `${server.issuer}/interaction/${uid}/login`, {
        form: { csrf: csrfOf(page.html), username, password },
      })
      const html = await response.text()
      return { status: response.status, retryAfter: response.headers.get('retry-after'), html, uid }
    }
    const normalize = (result: { html: string; uid: string }) =>
      result.html
        .replaceAll(result.uid, 'UID')
        .replace(/name="csrf" value="[^"]+"/, '')
        .replace(/value="[^"]*"/g, '')
    const sessions = await rowCount(t.db, 'oidc_payloads')
    const wrong = await attempt('erin', 'not-her-password')
    const unknown = await attempt('nobody-here', 'not-her-password')
    expect(wrong.status).toBe(200)
    expect(unknown.status).toBe(200)
    expect(wrong.html).toContain('The username or password is incorrect.')
    expect(normalize(wrong)).toEqual(normalize(unknown))

    await attempt('erin', 'still-wrong')
    await attempt('erin', 'wrong-again')
    const limited = await attempt('erin', PASSWORDS.erin)
    expect(limited.status).toBe(429)
    expect(Number(limited.retryAfter)).toBeGreaterThan(0)
    expect(limited.html).toContain('Too many failed sign-ins')
    // An unknown username is limited the same way: the limit says nothing about who exists.
    await attempt('nobody-here', 'x')
    await attempt('nobody-here', 'y')
    expect((await attempt('nobody-here', 'z')).status).toBe(429)
    // Only interactions were stored: no session, no grant.
    const sessionsAfter = await sql<{
      n: string
    }>`select count(*) as n from oidc_payloads where model in ('Session', 'Grant')
      and payload->>'accountId' in ('erin', 'nobody-here')`.execute(t.db)
    expect(Number(sessionsAfter.rows[0]?.n)).toBe(0)
    expect(await rowCount(t.db, 'oidc_payloads')).toBeGreaterThan(sessions)
    expect(await auditCount('user.signed_in', 'erin')).toBe(0)
  })

  it('refuses a sign-in form without its CSRF token, or posted from another site', async () => {
    const jar = new CookieJar()
    const page = await startAuthorization(server.issuer, jar, { client_id: WEB_APP.id, redirect_uri: WEB_APP.redirect })
    const uid = interactionUidOf(page.url)
    const url = `${server.issuer}/interaction/${uid}/login`
    const cases = [
      { form: { username: 'carol', password: carol.password } },
      { form: { csrf: 'forged', username: 'carol', password: carol.password } },
      {
        form: { csrf: csrfOf(page.html), username: 'carol', password: carol.password },
        headers: { 'sec-fetch-site': 'cross-site' },
      },
      {
        form: { csrf: csrfOf(page.html), username: 'carol', password: carol.password },
        headers: { origin: 'https://evil.test' },
      },
    ]
    for (const request of cases) {
      const response = await browse(jar, url, request)
      expect(response.status).toBe(403)
      expect(await response.text()).toContain('This form could not be accepted')
    }
    const sessions = await sql<{ n: string }>`select count(*) as n from oidc_payloads where model = 'Session'
      and payload->>'accountId' = 'carol' and payload->>'uid' = ${uid}`.execute(t.db)
    expect(Number(sessions.rows[0]?.n)).toBe(0)
  })

  it('sets its cookies HttpOnly, SameSite=Lax and signed', async () => {
    const { jar } = await signInAndRedeem({ scope: 'openid' })
    const names = new Set(jar.lines.map((line) => line.split('=')[0]))
    // The interaction, the resume and the session cookie, each with its signature.
    for (const name of ['mandate.interaction', 'mandate.resume', 'mandate.session'])
      expect([...names], name).toEqual(expect.arrayContaining([name, `${name}.sig`]))
    for (const line of jar.lines) {
      expect(line.toLowerCase(), line).toContain('httponly')
      expect(line.toLowerCase(), line).toContain('samesite=lax')
    }
  })
})

describe('refresh tokens', () => {
  it('rotates on use; reusing one revokes its grant, its access tokens and everything exchanged from them', async () => {
    const { body } = await signInAndRedeem({
      scope: 'openid offline_access tickets:read tickets:write',
      resource: TICKETS,
      client: AGENT_APP,
    })
    const person = body.access_token as string
    // An agent app's tokens name it alone in may_act (RFC 8693 §4.4).
    expect(decodeJwt(person)).toMatchObject({
      sub: 'carol',
      client_id: AGENT_APP.id,
      may_act: { sub: AGENT_APP.id, iss: server.issuer },
    })

    const child = await post(
      `${server.url}/token`,
      {
        grant_type: TOKEN_EXCHANGE,
        subject_token: person,
        subject_token_type: ACCESS_TOKEN,
        resource: TICKETS,
        scope: 'tickets:read',
      },
      { clientId: AGENT_APP.id, secret: AGENT_APP.secret },
    )
    const childBody = (await child.json()) as Record<string, string>
    expect(child.status, JSON.stringify(childBody)).toBe(200)
    const exchanged = childBody.access_token as string
    expect(await introspect(server.url, exchanged)).toMatchObject({ active: true, sub: 'carol' })
    // What the agent gets by exchange carries the chain in act, not the person's may_act.
    expect(decodeJwt(exchanged)).not.toHaveProperty('may_act')

    const rotated = await tokenRequest(
      { grant_type: 'refresh_token', refresh_token: body.refresh_token as string },
      AGENT_APP,
    )
    const rotatedBody = (await rotated.json()) as Record<string, string>
    expect(rotated.status, JSON.stringify(rotatedBody)).toBe(200)
    expect(rotatedBody.refresh_token).not.toBe(body.refresh_token)
    expect(decodeJwt(rotatedBody.access_token as string)).toMatchObject({ sub: 'carol', aud: TICKETS })
    expect(await introspect(server.url, rotatedBody.access_token as string)).toMatchObject({ active: true })

    // The first refresh token again: a reuse. The whole family ends, at once.
    const reuse = await tokenRequest(
      { grant_type: 'refresh_token', refresh_token: body.refresh_token as string },
      AGENT_APP,
    )
    expect(reuse.status).toBe(400)
    expect(await reuse.json()).toMatchObject({ error: 'invalid_grant' })
    for (const token of [person, rotatedBody.access_token as string, exchanged])
      expect(await introspect(server.url, token)).toEqual({ active: false })
    const next = await tokenRequest(
      { grant_type: 'refresh_token', refresh_token: rotatedBody.refresh_token as string },
      AGENT_APP,
    )
    expect(next.status).toBe(400)
    expect(await auditCount('grant.revoked')).toBeGreaterThan(0)
  })

  it('lets two concurrent uses of one refresh token yield at most one token, then revokes the grant', async () => {
    const { body } = await signInAndRedeem({ scope: 'offline_access tickets:read', resource: TICKETS })
    const responses = await Promise.all(
      [1, 2, 3].map(() => tokenRequest({ grant_type: 'refresh_token', refresh_token: body.refresh_token as string })),
    )
    const ok = responses.filter((response) => response.status === 200)
    expect(ok.length).toBeLessThanOrEqual(1)
    expect(await introspect(server.url, body.access_token as string)).toEqual({ active: false })
    for (const response of ok) {
      const issued = (await response.json()) as Record<string, string>
      expect(await introspect(server.url, issued.access_token as string)).toEqual({ active: false })
    }
  })
})

describe('may_act at consent', () => {
  it('tells the person the app is an agent and what it may do, and refuses exchanges by any other actor', async () => {
    const jar = new CookieJar()
    const { challenge, verifier } = pkce()
    const first = await follow(
      jar,
      authorizationUrl(server.issuer, {
        client_id: AGENT_APP.id,
        redirect_uri: AGENT_APP.redirect,
        scope: 'tickets:read',
        resource: TICKETS,
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }),
      server.issuer,
    )
    const consent = await submitSignIn(jar, first, server.issuer, 'dave', PASSWORDS.dave)
    expect(consent.html).toContain('Helper Agent is an AI agent app.')
    expect(consent.html).toContain('actions: tickets.read')
    const done = await submitConsent(jar, consent, server.issuer, 'allow')
    const response = await tokenRequest(
      {
        grant_type: 'authorization_code',
        code: done.leftTo?.searchParams.get('code') as string,
        redirect_uri: AGENT_APP.redirect,
        code_verifier: verifier,
      },
      AGENT_APP,
    )
    const person = ((await response.json()) as Record<string, string>).access_token as string
    const before = await rowCount(t.db, 'issued_tokens')
    const refused = await exchange(server.url, 'agent-two', {
      subject_token: person,
      resource: 'https://other.test/api',
      scope: 'other:read',
    })
    const refusal = await refused.json()
    expect(refused.status, JSON.stringify(refusal)).toBe(400)
    // RFC 8693 §2.2.2: an unacceptable subject token is invalid_request, with the one token description.
    expect(refusal).toEqual({ error: 'invalid_request', error_description: TOKEN_INVALID })
    expect(await rowCount(t.db, 'issued_tokens')).toBe(before)
    const decision = await t.db
      .selectFrom('decisions')
      .select(['result', 'reason'])
      .where('subject_ref', '=', jtiOf(person))
      .orderBy('created_at', 'desc')
      .executeTakeFirst()
    expect(decision).toEqual({ result: 'deny', reason: 'delegation.may_act_mismatch' })
  })
})

describe('RP-initiated logout', () => {
  it('confirms, ends the session and returns to the registered URI', async () => {
    const { body, jar } = await signInAndRedeem({ scope: 'openid tickets:read', resource: TICKETS })
    const sessionsBefore = await sql<{
      n: string
    }>`select count(*) as n from oidc_payloads where model = 'Session' and payload->>'accountId' = 'carol'`.execute(
      t.db,
    )
    const ask = await follow(
      jar,
      `${server.issuer}/session/end?id_token_hint=${body.id_token}&post_logout_redirect_uri=${encodeURIComponent('https://app.test/bye')}&state=out`,
      server.issuer,
    )
    expect(ask.response.status).toBe(200)
    expect(ask.html).toContain('>Sign out</button>')
    expect(ask.html).not.toMatch(/<script/i)
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(ask.html)?.[1] as string
    const confirmed = await browse(jar, `${server.issuer}/session/end/confirm`, { form: { xsrf, logout: 'yes' } })
    const landing = await follow(jar, `${server.issuer}/session/end/confirm`, server.issuer, confirmed)
    expect(landing.leftTo?.href).toBe('https://app.test/bye?state=out')
    const sessionsAfter = await sql<{
      n: string
    }>`select count(*) as n from oidc_payloads where model = 'Session' and payload->>'accountId' = 'carol'`.execute(
      t.db,
    )
    expect(Number(sessionsAfter.rows[0]?.n)).toBeLessThan(Number(sessionsBefore.rows[0]?.n))
    // Tokens that expire with the session (no offline_access) end with it.
    expect(await introspect(server.url, body.access_token as string)).toEqual({ active: false })
  })
})

describe('the session is shared', () => {
  it('skips the sign-in page while the session lasts, on another process too (it lives in Postgres)', async () => {
    const { jar } = await signInAndRedeem({ scope: 'openid' })
    const again = await startAuthorization(second.issuer, jar, {
      client_id: WEB_APP.id,
      redirect_uri: WEB_APP.redirect,
    })
    expect(again.leftTo?.searchParams.get('code')).toBeTruthy()
  })
})

describe('a disabled user', () => {
  it('loses every token, session and refresh at once, and cannot sign in (the same message as a wrong password)', async () => {
    const dave = { username: 'dave', password: PASSWORDS.dave }
    const { body, jar } = await signInAndRedeem(
      { scope: 'openid offline_access tickets:read', resource: TICKETS, client: AGENT_APP },
      dave,
    )
    const exchanged = await post(
      `${server.url}/token`,
      {
        grant_type: TOKEN_EXCHANGE,
        subject_token: body.access_token as string,
        subject_token_type: ACCESS_TOKEN,
        resource: TICKETS,
        scope: 'tickets:read',
      },
      { clientId: AGENT_APP.id, secret: AGENT_APP.secret },
    )
    const child = ((await exchanged.json()) as Record<string, string>).access_token as string
    expect(await introspect(server.url, child)).toMatchObject({ active: true, sub: 'dave' })

    expect(await disableUser(t.db, 'dave', toDate(Math.floor(Date.now() / 1000)), 'test')).toBe(true)
    for (const token of [body.access_token as string, child])
      expect(await introspect(server.url, token)).toEqual({ active: false })
    expect(await introspect(second.url, child)).toEqual({ active: false })
    const refresh = await tokenRequest(
      { grant_type: 'refresh_token', refresh_token: body.refresh_token as string },
      AGENT_APP,
    )
    expect(refresh.status).toBe(400)
    expect(await refresh.json()).toMatchObject({ error: 'invalid_grant' })

    // The old session is gone: the next authorization asks to sign in, and the password no longer works.
    const page = await startAuthorization(server.issuer, jar, { client_id: WEB_APP.id, redirect_uri: WEB_APP.redirect })
    expect(page.html).toContain('>Sign in</button>')
    const tokens = await rowCount(t.db, 'issued_tokens')
    const refused = await submitSignIn(jar, page, server.issuer, dave.username, dave.password)
    expect(refused.response.status).toBe(200)
    expect(refused.html).toContain('The username or password is incorrect.')
    expect(refused.leftTo).toBeUndefined()
    expect(await rowCount(t.db, 'issued_tokens')).toBe(tokens)
  })
})
