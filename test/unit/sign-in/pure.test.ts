// The pure parts of the sign-in pages: escaping, CSRF tokens, the origin check, the consent view.
import { describe, expect, it } from 'vitest'
import { buildCatalog } from '../../../src/catalog/catalog.ts'
import { cookieOptions } from '../../../src/oidc/cookies.ts'
import { PolicyPathSpec } from '../../../src/policy/schema.ts'
import { escapeText, Html, html, page } from '../../../src/pages/html.ts'
import { consentView } from '../../../src/sign-in/consent.ts'
import { csrfToken, csrfValid, fromOwnOrigin } from '../../../src/sign-in/csrf.ts'
import { consentPage, loginPage } from '../../../src/sign-in/pages.ts'

describe('html', () => {
  it('escapes every interpolated value and keeps fragments as markup', () => {
    const evil = `"><script>alert(1)</script>'&`
    expect(html`<p title="${evil}">${evil}</p>`.markup).toBe(
      '<p title="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&#39;&amp;">&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&#39;&amp;</p>',
    )
    expect(html`<ul>${['a<', 'b'].map((x) => html`<li>${x}</li>`)}</ul>`.markup).toBe(
      '<ul><li>a&lt;</li><li>b</li></ul>',
    )
    expect(html`${undefined}${false}${null}${0}`.markup).toBe('0')
    expect(escapeText('&<>"\'')).toBe('&amp;&lt;&gt;&quot;&#39;')
    expect(new Html('<b>').toString()).toBe('<b>')
  })

  it('lays a page out with a language, a title, our stylesheet and no script or inline style', () => {
    const text = page('T<', html`<h1>x</h1>`)
    expect(text).toContain('<html lang="en">')
    expect(text).toContain('<title>T&lt; · Mandate</title>')
    expect(text).toContain('<link rel="stylesheet" href="/assets/mandate.css">')
    expect(text).not.toMatch(/<script|style=|<style/i)
  })

  it('renders the pages with their fixed accessible names and escapes what a person or a document wrote', () => {
    const login = loginPage({
      uid: 'u1',
      csrf: 'c1',
      app: '<App>',
      username: '"bob',
      error: 'Bad <thing>',
      upstream: [{ name: 'corp', label: 'Corp <SSO>' }],
    })
    expect(login).toContain('<label for="username">Username</label>')
    expect(login).toContain('<label for="password">Password</label>')
    expect(login).toContain('<button class="primary" type="submit">Sign in</button>')
    expect(login).toContain('value="&quot;bob"')
    expect(login).toContain('Continue with Corp &lt;SSO&gt;')
    expect(login).toContain('role="alert"')
    expect(login).not.toContain('<App>')
    const consent = consentPage(
      { app: 'A', clientId: 'a', agent: false, identity: [], resources: [], agentMay: [] },
      { uid: 'u1', csrf: 'c1', username: 'bob' },
    )
    expect(consent).toContain('value="allow">Allow</button>')
    expect(consent).toContain('value="deny">Deny</button>')
  })
})

describe('csrf', () => {
  const key = Buffer.alloc(32, 1)
  it('accepts the token of this interaction only', () => {
    const token = csrfToken(key, 'uid-1')
    expect(csrfValid(key, 'uid-1', token)).toBe(true)
    expect(csrfValid(key, 'uid-2', token)).toBe(false)
    expect(csrfValid(Buffer.alloc(32, 2), 'uid-1', token)).toBe(false)
    expect(csrfValid(key, 'uid-1', undefined)).toBe(false)
    expect(csrfValid(key, 'uid-1', [token])).toBe(false)
    expect(csrfValid(key, 'uid-1', `${token}x`)).toBe(false)
  })

  it('refuses forms another site posted (Fetch Metadata, else Origin)', () => {
    const own = 'https://auth.example'
    expect(fromOwnOrigin({ fetchSite: '', origin: '' }, own)).toBe(true)
    expect(fromOwnOrigin({ fetchSite: 'same-origin', origin: own }, own)).toBe(true)
    expect(fromOwnOrigin({ fetchSite: 'none', origin: '' }, own)).toBe(true)
    expect(fromOwnOrigin({ fetchSite: 'cross-site', origin: '' }, own)).toBe(false)
    expect(fromOwnOrigin({ fetchSite: 'same-site', origin: '' }, own)).toBe(false)
    expect(fromOwnOrigin({ fetchSite: '', origin: 'https://evil.example' }, own)).toBe(false)
    expect(fromOwnOrigin({ fetchSite: '', origin: 'null' }, own)).toBe(false)
  })
})

describe('cookie options', () => {
  it('marks cookies Secure whenever the issuer is https, always HttpOnly, SameSite=Lax and signed', () => {
    expect(cookieOptions('https://auth.example', ['k']).long).toMatchObject({
      secure: true,
      httpOnly: true,
      sameSite: 'lax',
      signed: true,
    })
    expect(cookieOptions('http://localhost:3000', ['k']).short).toMatchObject({ secure: false, httpOnly: true })
  })
})

describe('consentView', () => {
  const catalog = buildCatalog({
    generation: '1',
    clients: [],
    resources: [
      {
        name: 'tickets',
        uri: 'https://t/',
        description: 'Tickets',
        labels: {},
        scopes: ['t:r', 't:w'],
        introspectors: [],
        access_token_lifetime: 300,
        content_hash: '',
        created_at: new Date(0),
        updated_at: new Date(0),
        revocation_webhook: null,
        scope_descriptions: { 't:r': 'Read tickets' },
      },
    ],
    issuers: [],
    bindings: [
      {
        client_id: 'bot',
        resource: 'https://t/',
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        path: 'p',
      },
    ],
    levels: [
      {
        path: 'p',
        version: 1,
        spec: PolicyPathSpec.parse({ scopes: ['t:r'], actions: [{ name: 'tickets.read', class: 'read' }] }),
      },
    ],
  })

  it('describes each scope in the resource owner’s words, and falls back to its name', () => {
    const view = consentView(
      catalog,
      { clientId: 'app', name: 'App', agent: false },
      { missingOIDCScope: ['openid', 'email'], missingResourceScopes: { 'https://t/': ['t:r', 't:w'] } },
    )
    expect(view.identity.map((line) => line.scope)).toEqual(['openid', 'email'])
    expect(view.resources).toEqual([
      {
        uri: 'https://t/',
        name: 'tickets',
        description: 'Tickets',
        scopes: [{ scope: 't:r', description: 'Read tickets' }, { scope: 't:w' }],
      },
    ])
    expect(view.agentMay).toEqual([])
  })

  it('tells what an agent app may do for the person: its exchange paths, their scopes and actions', () => {
    const view = consentView(catalog, { clientId: 'bot', name: 'Bot', agent: true }, {})
    expect(view.agent).toBe(true)
    expect(view.agentMay).toEqual([{ resource: 'tickets', scopes: ['t:r'], actions: ['tickets.read'] }])
  })
})
