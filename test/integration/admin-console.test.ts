// The admin console over HTTP (issue 13): people sign in at Mandate itself and only holders of the
// mandate:admin role get in; the session cookie's flags; the CSP with no script; forms refused without the
// session's CSRF token or from another origin, writing nothing; a removed role ends the session at once.
import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { applyDocuments } from '../../src/manifests/apply.ts'
import { setUserDisabled } from '../../src/users/store.ts'
import {
  ADMIN,
  adminUserDocument,
  consoleDocuments,
  folderWith,
  NOT_ADMIN,
  signInAtConsole,
} from '../support/console.ts'
import { useDatabase } from '../support/database.ts'
import { TEST_APPLY, useServer } from '../support/server.ts'
import { browse, CookieJar, csrfOf } from '../support/sign-in.ts'
import { accessToken, exchange, exchanged, jtiOf } from '../support/oauth.ts'
import { startTask } from '../support/tasks.ts'

const t = useDatabase()
const server = useServer(t, { apply: await consoleDocuments() })
const PATH = 'people/web-app'

const versions = async () =>
  Number(
    (await sql<{ n: string }>`select count(*) as n from policy_path_versions where path = ${PATH}`.execute(t.db))
      .rows[0]?.n,
  )
const events = async (type: string) =>
  (await sql<{ actor: string }>`select actor from audit_events where type = ${type}`.execute(t.db)).rows

const signedIn = async () => {
  const jar = new CookieJar()
  const landing = await signInAtConsole(jar, server.adminUrl, ADMIN)
  return { jar, landing }
}

describe('signing in', () => {
  it('signs an administrator in: the policy paths list, a session cookie HttpOnly and SameSite, audited', async () => {
    const { jar, landing } = await signedIn()
    expect(landing.response.status).toBe(200)
    expect(landing.url).toBe(`${server.adminUrl}/admin/policy-paths`)
    expect(landing.html).toContain('<h1>Policy paths</h1>')
    expect(landing.html).toContain(PATH)
    const line = jar.lines.find((l) => l.startsWith('mandate-console='))
    expect(line).toMatch(/; Path=\/; Max-Age=28800; HttpOnly; SameSite=Lax$/)
    // Over plain http (the default URL) neither Secure nor the __Host- prefix; docs/admin-console.md says https sets both.
    expect(line).not.toContain('Secure')
    expect(await events('admin_console.signed_in')).toContainEqual({ actor: `admin-person:${ADMIN.username}` })
  })

  it('serves every page with the no-script CSP, no caching and no framing', async () => {
    const { jar } = await signedIn()
    const response = await browse(jar, `${server.adminUrl}/admin/policy-path?name=${PATH}`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-security-policy')).toBe(
      "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'",
    )
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(response.headers.get('x-frame-options')).toBe('DENY')
    expect(await response.text()).not.toContain('<script')
  })

  it('refuses a person without the mandate:admin role (403) and opens no session', async () => {
    const before = await sql`select 1 from admin_console_sessions where username is not null`.execute(t.db)
    const jar = new CookieJar()
    const landing = await signInAtConsole(jar, server.adminUrl, NOT_ADMIN)
    expect(landing.response.status).toBe(403)
    expect(landing.html).toContain('does not hold the <code>mandate:admin</code> role')
    expect(jar.lines.some((l) => l.startsWith('mandate-console='))).toBe(false)
    const after = await sql`select 1 from admin_console_sessions where username is not null`.execute(t.db)
    expect(after.rows.length).toBe(before.rows.length)
    expect(await events('admin_console.refused')).toContainEqual({ actor: `admin-person:${NOT_ADMIN.username}` })
    // And the console's pages send them to sign in again, never show them.
    const page = await browse(jar, `${server.adminUrl}/admin/policy-paths`)
    expect(page.status).toBe(303)
    expect(page.headers.get('location')).toBe('/admin/login')
  })

  it('refuses a callback without the sign-in it answers (no cookie, or another state)', async () => {
    const jar = new CookieJar()
    const response = await browse(jar, `${server.adminUrl}/admin/callback?code=x&state=y`)
    expect(response.status).toBe(400)
    expect(await response.text()).toContain('Sign-in expired')
  })

  it('refuses an answer to its own sign-in that does not name Mandate as its issuer (RFC 9207 §2.4: iss missing or another)', async () => {
    for (const iss of [undefined, 'https://attacker.test']) {
      const jar = new CookieJar()
      const start = await browse(jar, `${server.adminUrl}/admin/login`)
      const state = new URL(start.headers.get('location') as string).searchParams.get('state') as string
      const query = new URLSearchParams({ code: 'a-code', state, ...(iss ? { iss } : {}) })
      const response = await browse(jar, `${server.adminUrl}/admin/callback?${query}`)
      expect(response.status).toBe(400)
      expect(await response.text()).toContain('Sign-in did not complete')
      expect(jar.lines.some((l) => l.startsWith('mandate-console='))).toBe(false)
    }
  })

  it('never gives the console a token for the admin API: its person gets no mandate:admin scope', async () => {
    const rows = await sql<{
      scope: string[]
    }>`select scope from issued_tokens where client_id = 'mandate-admin-console'`.execute(t.db)
    expect(rows.rows.flatMap((r) => r.scope)).not.toContain('mandate:admin')
  })
})

describe('forms', () => {
  const save = async (jar: CookieJar, form: Record<string, string>, origin = server.adminUrl) =>
    browse(jar, `${server.adminUrl}/admin/policy-path/edit?name=${PATH}`, { form, headers: { origin } })

  const editorOf = async (jar: CookieJar) => {
    const html = await (await browse(jar, `${server.adminUrl}/admin/policy-path/edit?name=${PATH}`)).text()
    const yaml = /<textarea[^>]*>([\s\S]*?)<\/textarea>/.exec(html)?.[1]?.replaceAll('&quot;', '"') ?? ''
    return { html, yaml, csrf: csrfOf(html), version: /name="version" value="(\d+)"/.exec(html)?.[1] ?? '' }
  }

  it("refuses a post without the CSRF token, with another session's, or from another origin: 403, nothing written", async () => {
    const { jar } = await signedIn()
    const other = await signedIn()
    const editor = await editorOf(jar)
    const before = await versions()
    const form = {
      version: editor.version,
      yaml: editor.yaml.replace('tokenLifetime: 120', 'tokenLifetime: 60'),
      reason: 'shorter',
      intent: 'save',
    }
    for (const response of [
      await save(jar, form),
      await save(jar, { ...form, csrf: (await editorOf(other.jar)).csrf }),
      await save(jar, { ...form, csrf: editor.csrf }, 'https://evil.test'),
    ]) {
      expect(response.status).toBe(403)
      expect(await response.text()).toContain('Form refused')
    }
    expect(await versions()).toBe(before)
    // The same form with its token is saved.
    const saved = await save(jar, { ...form, csrf: editor.csrf })
    expect(saved.status).toBe(303)
    expect(saved.headers.get('location')).toBe(`/admin/policy-path?name=people%2Fweb-app&saved=${before + 1}`)
    expect(await versions()).toBe(before + 1)
    expect(await events('policy_path.changed')).toContainEqual({ actor: `admin-person:${ADMIN.username}` })
  })

  it('checks without saving; refuses a save without a reason or against an older version, writing nothing', async () => {
    const { jar } = await signedIn()
    const editor = await editorOf(jar)
    const before = await versions()
    const widened = editor.yaml.replace('- tickets:read', '- tickets:read\n    - nope:read')
    const checked = await save(jar, {
      csrf: editor.csrf,
      version: editor.version,
      yaml: widened,
      reason: '',
      intent: 'check',
    })
    expect(checked.status).toBe(200)
    const page = await checked.text()
    expect(page).toContain('<strong>Warnings</strong> (saving is allowed)')
    expect(page).toMatch(/Warning<\/strong>, line \d+, column \d+: [^<]*nope:read/)
    const form = {
      csrf: editor.csrf,
      version: editor.version,
      yaml: editor.yaml.replace(/tokenLifetime: \d+/, 'tokenLifetime: 45'),
      intent: 'save',
    }
    const noReason = await save(jar, { ...form, reason: ' ' })
    expect(noReason.status).toBe(400)
    expect(await noReason.text()).toContain('Reason is required')
    const stale = await save(jar, { ...form, reason: 'r', version: String(Number(editor.version) - 1) })
    expect(stale.status).toBe(412)
    expect(await stale.text()).toContain('Someone saved this path since you opened it')
    expect(await versions()).toBe(before)
  })

  it('asks for confirmation before a rollback that broadens (409), then saves it', async () => {
    const { jar } = await signedIn()
    const editor = await editorOf(jar)
    const lifetime = Number(/tokenLifetime: (\d+)/.exec(editor.yaml)?.[1])
    const narrowed = await save(jar, {
      csrf: editor.csrf,
      version: editor.version,
      yaml: editor.yaml.replace(/tokenLifetime: \d+/, `tokenLifetime: ${lifetime - 10}`),
      reason: 'narrower',
      intent: 'save',
    })
    expect(narrowed.status).toBe(303)
    const current = Number(editor.version) + 1
    const url = `${server.adminUrl}/admin/policy-path/rollback?name=${PATH}`
    const shown = await (await browse(jar, `${url}&version=${editor.version}`)).text()
    expect(shown).toContain('Going back broadens what the path lets through.')
    const form = { csrf: csrfOf(shown), version: editor.version, current: String(current), reason: 'undo' }
    const before = await versions()
    const unconfirmed = await browse(jar, url, { form, headers: { origin: server.adminUrl } })
    expect(unconfirmed.status).toBe(409)
    expect(await unconfirmed.text()).toContain('I confirm this rollback broadens the path')
    expect(await versions()).toBe(before)
    const confirmed = await browse(jar, url, {
      form: { ...form, confirm: 'yes' },
      headers: { origin: server.adminUrl },
    })
    expect(confirmed.status).toBe(303)
    expect(await versions()).toBe(before + 1)
  })

  it('refuses a post of a signed-out browser (401), writing nothing', async () => {
    const before = await versions()
    const response = await save(new CookieJar(), { csrf: 'x', version: '1', yaml: 'a: b', reason: 'r' })
    expect(response.status).toBe(401)
    expect(await versions()).toBe(before)
  })

  it('signs out: the session ends, the cookie is cleared', async () => {
    const { jar } = await signedIn()
    const { csrf } = await editorOf(jar)
    const response = await browse(jar, `${server.adminUrl}/admin/logout`, {
      form: { csrf },
      headers: { origin: server.adminUrl },
    })
    expect(response.status).toBe(200)
    expect(jar.lines.at(-1)).toMatch(/^mandate-console=; Path=\/; Max-Age=0/)
    expect((await browse(jar, `${server.adminUrl}/admin/policy-paths`)).status).toBe(303)
  })
})

describe('the role, read at every request', () => {
  it('keeps the role through the admin API: the user document shows it, and a PUT of it keeps it', async () => {
    const token = await accessToken(server.url, 'mandate-admin', {
      resource: 'urn:mandate:admin',
      scope: 'mandate:admin',
    })
    const read = await fetch(`${server.adminUrl}/admin/v1/users/${ADMIN.username}`, {
      headers: { authorization: `Bearer ${token}` },
    })
    expect(read.status).toBe(200)
    const document = (await read.json()) as { spec: Record<string, unknown> }
    expect(document.spec.roles).toEqual(['mandate:admin'])
    const put = await fetch(`${server.adminUrl}/admin/v1/users/${ADMIN.username}`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'if-match': read.headers.get('etag') as string,
      },
      body: JSON.stringify({
        document: { ...document, spec: { ...document.spec, displayName: 'Ada L.' } },
        reason: 'name',
      }),
    })
    expect(put.status, await put.clone().text()).toBeLessThan(300)
    const row = await sql<{ roles: string[] }>`select roles from users where username = ${ADMIN.username}`.execute(t.db)
    expect(row.rows[0]?.roles).toEqual(['mandate:admin'])
  })

  it("leaves the console's own client to the server: the admin API refuses to change or delete it (409)", async () => {
    const token = await accessToken(server.url, 'mandate-admin', {
      resource: 'urn:mandate:admin',
      scope: 'mandate:admin',
    })
    const url = `${server.adminUrl}/admin/v1/clients/mandate-admin-console`
    const read = await fetch(url, { headers: { authorization: `Bearer ${token}` } })
    expect(read.status).toBe(200)
    const etag = read.headers.get('etag') as string
    const document = (await read.json()) as { spec: Record<string, unknown> }
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'if-match': etag }
    const body = {
      document: { ...document, spec: { ...document.spec, redirectUris: ['https://evil.test/cb'] } },
      reason: 'x',
    }
    for (const response of [
      await fetch(url, { method: 'PUT', headers, body: JSON.stringify(body) }),
      await fetch(url, { method: 'DELETE', headers, body: JSON.stringify({ reason: 'x' }) }),
    ]) {
      expect(response.status).toBe(409)
      expect(await response.json()).toMatchObject({ title: 'Built in' })
    }
    const client = await t.db
      .selectFrom('clients')
      .select('redirect_uris')
      .where('client_id', '=', 'mandate-admin-console')
      .executeTakeFirst()
    expect(client?.redirect_uris).toEqual([`${server.adminUrl}/admin/callback`])
  })

  it('ends the session at once when the role is taken away, and when the user is disabled', async () => {
    const { jar } = await signedIn()
    const hash = (
      await sql<{ password_hash: string }>`select password_hash from users where username = ${ADMIN.username}`.execute(
        t.db,
      )
    ).rows[0]?.password_hash as string
    const applied = await applyDocuments(t.db, [folderWith(await adminUserDocument([], hash))], TEST_APPLY)
    expect(applied.findings).toEqual([])
    // Taking the role deleted the session (users/plan-apply.ts): the browser is sent to sign in, its cookie cleared.
    const refused = await browse(jar, `${server.adminUrl}/admin/policy-paths`)
    expect(refused.status).toBe(303)
    expect(refused.headers.get('location')).toBe('/admin/login')
    expect(jar.lines.at(-1)).toMatch(/^mandate-console=; Path=\/; Max-Age=0/)
    // The session is gone: giving the role back does not bring it back.
    await applyDocuments(t.db, [folderWith(await adminUserDocument(['mandate:admin'], hash))], TEST_APPLY)
    expect((await browse(jar, `${server.adminUrl}/admin/policy-paths`)).status).toBe(303)

    const again = await signedIn()
    await setUserDisabled(t.db, ADMIN.username, { cli: true }, new Date())
    // Disabling ended the session itself (users/store.ts): the browser is sent to sign in again.
    expect((await browse(again.jar, `${server.adminUrl}/admin/policy-paths`)).status).toBe(303)
    await setUserDisabled(t.db, ADMIN.username, { cli: false }, new Date())
  })
})

describe('a person disabled and enabled again', () => {
  it('has lost their console sessions: enabling never revives one, even if no request came while disabled', async () => {
    const { jar } = await signedIn()
    const token = await accessToken(server.url, 'mandate-admin', {
      resource: 'urn:mandate:admin',
      scope: 'mandate:admin',
    })
    for (const action of ['disable', 'enable']) {
      const response = await fetch(`${server.adminUrl}/admin/v1/users/${ADMIN.username}:${action}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'laptop lost, then found' }),
      })
      expect(response.status).toBe(200)
    }
    const page = await browse(jar, `${server.adminUrl}/admin/policy-paths`)
    expect(page.status).toBe(303)
    expect(page.headers.get('location')).toBe('/admin/login')
    const { rows } = await sql`select 1 from admin_console_sessions where username = ${ADMIN.username}`.execute(t.db)
    expect(rows).toEqual([])
  })
})

describe('a role taken away and given back', () => {
  it('has ended the console session when taken: giving it back never revives it, even without a request between', async () => {
    const { jar } = await signedIn()
    const hash = (
      await sql<{ password_hash: string }>`select password_hash from users where username = ${ADMIN.username}`.execute(
        t.db,
      )
    ).rows[0]?.password_hash as string
    expect((await applyDocuments(t.db, [folderWith(await adminUserDocument([], hash))], TEST_APPLY)).findings).toEqual(
      [],
    )
    await applyDocuments(t.db, [folderWith(await adminUserDocument(['mandate:admin'], hash))], TEST_APPLY)
    const page = await browse(jar, `${server.adminUrl}/admin/policy-paths`)
    expect(page.status).toBe(303)
    expect(page.headers.get('location')).toBe('/admin/login')
  })
})

describe('the read pages', () => {
  it("shows a task's token tree, and its decisions and audit events through the filters", async () => {
    const { task, alice } = await startTask(server.url, { params: { purpose: 'Close ticket 7' } })
    const agent = await exchanged(server.url, 'agent-one', {
      subject_token: alice,
      resource: 'https://tickets.test/',
      task_id: task.task_id,
    })
    const sub = await exchanged(server.url, 'sub-agent', {
      subject_token: agent,
      resource: 'https://tickets.test/',
      scope: 'tickets:read',
    })
    const denied = await exchange(server.url, 'sub-agent', {
      subject_token: agent,
      resource: 'https://tickets.test/',
      scope: 'tickets:write',
    })
    expect(denied.status).toBe(400)
    const { jar } = await signedIn()

    const page = await (await browse(jar, `${server.adminUrl}/admin/task?id=${task.task_id}`)).text()
    expect(page).toContain('Close ticket 7')
    // The sub-agent's token nested inside the agent's, in the tree.
    const tree = page.slice(page.indexOf('<h2>Token tree</h2>'), page.indexOf('<h2>Actions timeline</h2>'))
    const [agentAt, subAt] = [tree.indexOf(jtiOf(agent).slice(0, 12)), tree.indexOf(jtiOf(sub).slice(0, 12))]
    expect(agentAt).toBeGreaterThan(0)
    expect(subAt).toBeGreaterThan(agentAt)
    expect(tree.slice(agentAt, subAt)).toContain('<ul class="tree">')

    const decisions = await (await browse(jar, `${server.adminUrl}/admin/decisions?task_id=${task.task_id}`)).text()
    expect(decisions.match(/<tr><td/g)?.length).toBe(3)
    expect(decisions).toContain('<span class="badge deny">deny</span>')
    const none = await (await browse(jar, `${server.adminUrl}/admin/decisions?client_id=nobody`)).text()
    expect(none).toContain('No decisions match.')
    const bad = await browse(jar, `${server.adminUrl}/admin/audit?since=yesterday`)
    expect(bad.status).toBe(400)
    expect(await bad.text()).toContain('Since must be a date and time')
    expect((await browse(jar, `${server.adminUrl}/admin/task?id=not-a-task`)).status).toBe(404)
    const status = await browse(jar, `${server.adminUrl}/admin/approvals?status=maybe`)
    expect(status.status).toBe(400)
    expect(await status.text()).toContain('Status must be one of pending, approved, denied, used, expired.')
    const pending = await (await browse(jar, `${server.adminUrl}/admin/approvals?status=pending`)).text()
    expect(pending).toContain('<option value="pending" selected>pending</option>')
  })
})

describe('simulate', () => {
  const simulateForm = (fields: Record<string, string>) => ({
    grant_type: 'token-exchange',
    client_id: 'helper-agent',
    resource: 'https://tickets.test/',
    scope: 'tickets:read',
    subject: '{"sub": "carol", "client_id": "helper-agent", "scope": "tickets:read tickets:write"}',
    actor_chain: '',
    task: '',
    action: '',
    candidate: '',
    intent: 'run',
    ...fields,
  })

  it('decides a described request with the live policy, and with a candidate in place; writes nothing', async () => {
    const { jar } = await signedIn()
    const form = await (await browse(jar, `${server.adminUrl}/admin/simulate`)).text()
    const csrf = csrfOf(form)
    const before = await sql<{
      n: string
    }>`select (select count(*) from decisions) + (select count(*) from issued_tokens) + (select count(*) from policy_path_versions) as n`.execute(
      t.db,
    )
    const run = async (fields: Record<string, string>) => {
      const response = await browse(jar, `${server.adminUrl}/admin/simulate`, {
        form: { csrf, ...simulateForm(fields) },
        headers: { origin: server.adminUrl },
      })
      return { status: response.status, html: await response.text() }
    }
    const live = await run({})
    expect(live.status).toBe(200)
    expect(live.html).toContain('Result: <span class="badge allow">allow</span>')
    expect(live.html).toContain('<dt>Scope</dt><dd>tickets:read</dd>')
    expect(live.html).toContain('people/helper-agent</a> version 1')

    const candidate = `apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: people/helper-agent }
spec:
  bindings:
    - { client: helper-agent, resource: "https://tickets.test/", grantType: authorization_code }
    - { client: helper-agent, resource: "https://tickets.test/", grantType: "urn:ietf:params:oauth:grant-type:token-exchange" }
  scopes: [tickets:write]
  delegation: { actors: [helper-agent] }
`
    const narrowed = await run({ candidate })
    expect(narrowed.status).toBe(200)
    expect(narrowed.html).toContain('Result: <span class="badge deny">deny</span>')
    expect(narrowed.html).toContain('<dt>Candidates in place</dt><dd>people/helper-agent</dd>')

    // A candidate with an error: at its line and column, nothing decided.
    const broken = await run({
      candidate: candidate.replace('scopes: [tickets:write]', 'scopes: [tickets:write]\n  bogus: 1'),
    })
    expect(broken.status).toBe(422)
    expect(broken.html).toMatch(/Error<\/strong>, candidate line 9, column 3: unknown field bogus/)
    expect(broken.html).not.toContain('Result:')
    // Claims that are no object, and a request outside the schema, say so.
    expect((await run({ subject: '[1, 2' })).status).toBe(400)
    const outside = await run({ client_id: '' })
    expect(outside.status).toBe(400)
    expect(outside.html).toContain('/request/client_id')

    const after = await sql<{
      n: string
    }>`select (select count(*) from decisions) + (select count(*) from issued_tokens) + (select count(*) from policy_path_versions) as n`.execute(
      t.db,
    )
    expect(after.rows[0]?.n).toBe(before.rows[0]?.n)
  })

  it('refuses the simulate form without its CSRF token (403)', async () => {
    const { jar } = await signedIn()
    const response = await browse(jar, `${server.adminUrl}/admin/simulate`, {
      form: simulateForm({}),
      headers: { origin: server.adminUrl },
    })
    expect(response.status).toBe(403)
    expect(await response.text()).not.toContain('Result:')
  })
})
