// The admin console behind a TLS-terminating proxy (MANDATE_ADMIN_CONSOLE__URL is https): its redirect URI
// is the configured URL's, its cookies are Secure with the __Host- prefix (RFC 6265bis §4.1.3.2), and its
// forms are accepted only from that origin. The test reaches the admin listener directly, as the proxy would.
import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { ADMIN, consoleDocuments, signInAtConsole } from '../support/console.ts'
import { useDatabase } from '../support/database.ts'
import { useServer } from '../support/server.ts'
import { browse, CookieJar, csrfOf } from '../support/sign-in.ts'

const CONSOLE = 'https://admin.example.test'
const t = useDatabase()
const server = useServer(t, { apply: await consoleDocuments(), env: { MANDATE_ADMIN_CONSOLE__URL: CONSOLE } })

describe('an https console', () => {
  it('registers its redirect URI on the configured URL', async () => {
    const client = await t.db
      .selectFrom('clients')
      .selectAll()
      .where('client_id', '=', 'mandate-admin-console')
      .executeTakeFirst()
    expect(client).toMatchObject({
      redirect_uris: [`${CONSOLE}/admin/callback`],
      grant_types: ['authorization_code'],
      scopes: [],
    })
    const login = await browse(new CookieJar(), `${server.adminUrl}/admin/login`)
    expect(login.status).toBe(303)
    const to = new URL(login.headers.get('location') as string)
    expect(to.origin + to.pathname).toBe(`${server.issuer}/auth`)
    expect(Object.fromEntries(to.searchParams)).toMatchObject({
      client_id: 'mandate-admin-console',
      redirect_uri: `${CONSOLE}/admin/callback`,
      response_type: 'code',
      scope: 'openid',
      code_challenge_method: 'S256',
    })
    expect(login.headers.getSetCookie()).toEqual([
      expect.stringMatching(
        /^__Host-mandate-console-signin=[\w-]{43}; Path=\/; Max-Age=600; HttpOnly; SameSite=Lax; Secure$/,
      ),
    ])
  })

  it('signs in with Secure __Host- cookies, and takes forms only from its own origin', async () => {
    const jar = new CookieJar()
    const landing = await signInAtConsole(jar, server.adminUrl, ADMIN, CONSOLE)
    expect(landing.response.status).toBe(200)
    expect(jar.lines).toContainEqual(
      expect.stringMatching(
        /^__Host-mandate-console=[\w-]{43}; Path=\/; Max-Age=28800; HttpOnly; SameSite=Lax; Secure$/,
      ),
    )
    expect(jar.lines.some((line) => line.startsWith('mandate-console'))).toBe(false)

    const editor = await (await browse(jar, `${server.adminUrl}/admin/policy-path/edit?name=people/web-app`)).text()
    const yaml = /<textarea[^>]*>([\s\S]*?)<\/textarea>/.exec(editor)?.[1] ?? ''
    const form = {
      csrf: csrfOf(editor),
      version: '1',
      yaml: yaml.replace('tokenLifetime: 120', 'tokenLifetime: 90'),
      reason: 'r',
      intent: 'save',
    }
    const count = async () =>
      (await sql<{ n: string }>`select count(*) as n from policy_path_versions`.execute(t.db)).rows[0]?.n
    const before = await count()
    const url = `${server.adminUrl}/admin/policy-path/edit?name=people/web-app`
    // The admin listener's own address is not the console's origin: refused, nothing written.
    const foreign = await browse(jar, url, { form, headers: { origin: server.adminUrl } })
    expect(foreign.status).toBe(403)
    expect(await count()).toBe(before)
    const own = await browse(jar, url, { form, headers: { origin: CONSOLE } })
    expect(own.status).toBe(303)
    expect(Number(await count())).toBe(Number(before) + 1)
  })
})
