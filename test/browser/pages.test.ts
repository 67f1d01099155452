// The sign-in, consent, logout and error pages in a real browser (Debian's Chromium): driven by their
// accessible names (the contract in docs/sign-in.md), by mouse and by keyboard alone, each checked with
// axe-core and kept as a screenshot; every page loads under its own CSP with no console error.
import { decodeJwt } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { useDatabase } from '../support/database.ts'
import { basic } from '../support/oauth.ts'
import { AGENT_APP, PASSWORDS, peopleDocuments, TICKETS, WEB_APP, WIKI } from '../support/people.ts'
import { useServer } from '../support/server.ts'
import { type AuthorizationRequest, authorizationUrl, pkce } from '../support/sign-in.ts'
import {
  CHROMIUM,
  expectAccessible,
  hasChromium,
  newVisit,
  screenshot,
  useBrowser,
  type Visit,
} from '../support/browser.ts'

const APPS = ['https://app.test', 'https://agent.test']

describe.skipIf(!hasChromium)(`pages in Chromium (${CHROMIUM})`, async () => {
  const t = useDatabase()
  const server = useServer(t, { apply: await peopleDocuments() })
  const chromium = useBrowser()

  const visits: Visit[] = []
  const visit = async () => {
    const opened = await newVisit(chromium.browser, APPS)
    visits.push(opened)
    return opened
  }
  afterEach(async () => {
    const errors = visits.flatMap((opened) => opened.errors)
    await Promise.all(visits.splice(0).map((opened) => opened.context.close()))
    // No CSP violation (nor any other error) on any page a test went through, with the CSP enforced.
    expect(errors).toEqual([])
  })

  /** A code request of the web app (or another client) with PKCE; the verifier to redeem it with. */
  const codeRequest = (request: Partial<AuthorizationRequest> = {}) => {
    const { verifier, challenge } = pkce()
    const url = authorizationUrl(server.issuer, {
      client_id: WEB_APP.id,
      redirect_uri: WEB_APP.redirect,
      scope: 'openid tickets:read',
      resource: TICKETS,
      state: 'browser-state',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...request,
    })
    return { url, verifier }
  }

  const signIn = async ({ page }: Visit, username: string, password: string) => {
    await page.getByLabel('Username').fill(username)
    await page.getByLabel('Password').fill(password)
    await page.getByRole('button', { name: 'Sign in' }).click()
  }

  /** Waits for the browser to be sent to an app; the URL it was sent to. */
  const landing = async ({ page }: Visit, origin: string): Promise<URL> => {
    await page.waitForURL((url) => url.origin === origin)
    await page.getByRole('heading', { name: 'Back at the app' }).waitFor()
    return new URL(page.url())
  }

  const redeem = async (code: string, verifier: string, client = WEB_APP, resource?: string) => {
    const response = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(client.id, client.secret),
      },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: client.redirect,
        code_verifier: verifier,
        ...(resource ? { resource } : {}),
      }),
    })
    const body = (await response.json()) as Record<string, string>
    expect(response.status, JSON.stringify(body)).toBe(200)
    return body
  }

  it('signs carol in, shows the consent in plain words, and Allow sends the app a code it redeems', async () => {
    const v = await visit()
    const { url, verifier } = codeRequest({
      scope: 'openid email tickets:read wiki:read',
      resource: [TICKETS, WIKI],
      nonce: 'browser-nonce',
    })
    await v.page.goto(url)
    await v.page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor()
    expect(await v.page.title()).toBe('Sign in · Mandate')
    expect(await v.page.locator('main').innerText()).toContain('to continue to Acme Web')
    // The stylesheet loaded under the page's own CSP (style-src 'self'): its background is on the body.
    expect(await v.page.evaluate('getComputedStyle(document.body).backgroundColor')).toBe('rgb(243, 245, 248)')
    await expectAccessible(v.page)
    await screenshot(v.page, 'sign-in')

    await signIn(v, 'carol', PASSWORDS.carol)
    await v.page.getByRole('heading', { name: 'Allow Acme Web to act for you?', level: 1 }).waitFor()
    const words = await v.page.locator('main').innerText()
    for (const line of [
      'You are signed in as carol',
      'See your email address',
      'The company wiki',
      'Read your wiki pages',
    ])
      expect(words).toContain(line)
    expect(words).not.toContain('AI agent app')
    await expectAccessible(v.page)
    await screenshot(v.page, 'consent')

    await v.page.getByRole('button', { name: 'Allow' }).click()
    const back = await landing(v, 'https://app.test')
    expect(back.origin + back.pathname).toBe(WEB_APP.redirect)
    expect(back.searchParams.get('state')).toBe('browser-state')
    expect(back.searchParams.get('iss')).toBe(server.issuer)
    const code = back.searchParams.get('code')
    expect(code).toBeTruthy()
    expect(v.landings.map((landed) => landed.href)).toEqual([back.href])

    // Two resources were granted: the token request names the one this token is for (RFC 8707 §2.2).
    const body = await redeem(code as string, verifier, WEB_APP, TICKETS)
    expect(decodeJwt(body.access_token as string)).toMatchObject({
      iss: server.issuer,
      sub: 'carol',
      aud: TICKETS,
      client_id: WEB_APP.id,
      scope: 'tickets:read',
    })
    expect(decodeJwt(body.id_token as string)).toMatchObject({ sub: 'carol', aud: WEB_APP.id, nonce: 'browser-nonce' })
  })

  it('sends the app access_denied when the person clicks Deny', async () => {
    const v = await visit()
    await v.page.goto(codeRequest({ state: 'deny-me' }).url)
    await signIn(v, 'dave', PASSWORDS.dave)
    await v.page.getByRole('button', { name: 'Deny' }).click()
    const back = await landing(v, 'https://app.test')
    expect(back.origin + back.pathname).toBe(WEB_APP.redirect)
    expect(back.searchParams.get('error')).toBe('access_denied')
    expect(back.searchParams.get('state')).toBe('deny-me')
    expect(back.searchParams.has('code')).toBe(false)
  })

  it('says a wrong password in an alert tied to the field, keeps the username, and still signs in', async () => {
    const v = await visit()
    await v.page.goto(codeRequest().url)
    await signIn(v, 'erin', 'not-her-password')
    const alert = v.page.getByRole('alert')
    await alert.waitFor()
    expect(await alert.innerText()).toBe('The username or password is incorrect.')
    const username = v.page.getByLabel('Username')
    expect(await username.inputValue()).toBe('erin')
    expect(await v.page.getByLabel('Password').inputValue()).toBe('')
    // The message is the username field's accessible description, so a screen reader reads it there too.
    expect(await username.getAttribute('aria-describedby')).toBe(await alert.getAttribute('id'))
    await expectAccessible(v.page)
    await screenshot(v.page, 'sign-in-error')

    await v.page.getByLabel('Password').fill(PASSWORDS.erin)
    await v.page.getByRole('button', { name: 'Sign in' }).click()
    await v.page.getByRole('button', { name: 'Allow' }).waitFor()
  })

  it('can be used with the keyboard alone: Tab to the fields, Enter to sign in, Tab and Enter to allow', async () => {
    const v = await visit()
    const { url, verifier } = codeRequest({ state: 'keys' })
    await v.page.goto(url)
    await v.page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor()
    const focused = v.page.locator(':focus')
    await v.page.keyboard.press('Tab')
    expect(await focused.getAttribute('id')).toBe('username')
    await v.page.keyboard.type('carol')
    await v.page.keyboard.press('Tab')
    expect(await focused.getAttribute('id')).toBe('password')
    await v.page.keyboard.type(PASSWORDS.carol)
    await v.page.keyboard.press('Enter')

    await v.page.getByRole('button', { name: 'Allow' }).waitFor()
    await v.page.keyboard.press('Tab')
    expect(await focused.innerText()).toBe('Allow')
    v.page.on('request', (r) => console.log('REQ', r.url().slice(0, 90), r.isNavigationRequest()))
    v.page.on('requestfailed', (r) => console.log('FAILED', r.url().slice(0, 90), r.failure()?.errorText))
    await v.page.keyboard.press('Enter')
    const back = await landing(v, 'https://app.test')
    expect(back.searchParams.get('state')).toBe('keys')
    expect(
      decodeJwt((await redeem(back.searchParams.get('code') as string, verifier)).access_token as string),
    ).toMatchObject({ sub: 'carol' })
  })

  it('tells the person on the consent page that an agent app is one, and what it may do', async () => {
    const v = await visit()
    const { url, verifier } = codeRequest({ client_id: AGENT_APP.id, redirect_uri: AGENT_APP.redirect })
    await v.page.goto(url)
    await signIn(v, 'dave', PASSWORDS.dave)
    const note = v.page.getByRole('note')
    await note.waitFor()
    expect(await note.innerText()).toContain('Helper Agent is an AI agent app.')
    expect(await note.innerText()).toContain('actions: tickets.read')
    await expectAccessible(v.page)
    await screenshot(v.page, 'consent-agent')
    await v.page.getByRole('button', { name: 'Allow' }).click()
    const back = await landing(v, 'https://agent.test')
    const body = await redeem(back.searchParams.get('code') as string, verifier, AGENT_APP)
    expect(decodeJwt(body.access_token as string)).toMatchObject({ sub: 'dave', may_act: { sub: AGENT_APP.id } })
  })

  describe('logout', () => {
    /** Signs carol in at the web app in this visit; her ID token. */
    const signedIn = async (v: Visit) => {
      const { url, verifier } = codeRequest()
      await v.page.goto(url)
      await signIn(v, 'carol', PASSWORDS.carol)
      await v.page.getByRole('button', { name: 'Allow' }).click()
      const back = await landing(v, 'https://app.test')
      return (await redeem(back.searchParams.get('code') as string, verifier)).id_token as string
    }

    it('confirms, signs out and returns to the registered post-logout URI; the next visit asks to sign in', async () => {
      const v = await visit()
      const idToken = await signedIn(v)
      const end = new URL('/session/end', server.issuer)
      end.searchParams.set('id_token_hint', idToken)
      end.searchParams.set('post_logout_redirect_uri', 'https://app.test/bye')
      end.searchParams.set('state', 'out')
      await v.page.goto(end.href)
      await v.page.getByRole('heading', { name: 'Sign out', level: 1 }).waitFor()
      expect(await v.page.locator('main').innerText()).toContain('Do you want to sign out of Mandate and Acme Web?')
      await v.page.getByRole('button', { name: 'Stay signed in' }).waitFor()
      await expectAccessible(v.page)
      await screenshot(v.page, 'logout')

      await v.page.getByRole('button', { name: 'Sign out' }).click()
      const back = await landing(v, 'https://app.test')
      expect(back.href).toBe('https://app.test/bye?state=out')

      await v.page.goto(codeRequest().url)
      await v.page.getByLabel('Password').waitFor()
    })

    it('shows the signed-out page when no app asked to be returned to', async () => {
      const v = await visit()
      await signedIn(v)
      await v.page.goto(new URL('/session/end', server.issuer).href)
      await v.page.getByRole('button', { name: 'Sign out' }).click()
      await v.page.getByRole('heading', { name: 'Signed out', level: 1 }).waitFor()
      expect(await v.page.locator('main').innerText()).toContain('You are signed out of Mandate.')
      await expectAccessible(v.page)
      await screenshot(v.page, 'signed-out')
    })
  })

  it.each([
    ['error-unknown-client', { client_id: 'no-such-app' }, 'invalid_client'],
    ['error-redirect-uri', { redirect_uri: 'https://evil.test/callback' }, 'invalid_redirect_uri'],
  ])('shows a page, not a redirect, for a request it cannot send back (%s)', async (name, request, error) => {
    const v = await visit()
    const response = await v.page.goto(codeRequest(request).url)
    expect(response?.status()).toBe(400)
    // Chromium reports the document's own status as a console error: that one alone is expected here.
    expect(v.errors.splice(0)).toEqual([
      expect.stringMatching(/^Failed to load resource: the server responded with a status of 400 /),
    ])
    await v.page.getByRole('heading', { name: 'This request cannot go on', level: 1 }).waitFor()
    expect(await v.page.getByRole('alert').innerText()).toContain(error)
    expect(v.landings).toEqual([])
    await expectAccessible(v.page)
    await screenshot(v.page, name)
  })
})
