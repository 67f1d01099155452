// The admin console in a real browser (Debian's Chromium, the page's CSP enforced): an administrator signs
// in at Mandate, finds a path, edits it and sees a finding inline, saves a narrowing, confirms a
// broadening, rolls back, and reads the other pages; a person without the role is refused. Every page is
// checked with axe-core and kept as a screenshot in test-artifacts/screenshots/console-*.png.
import { sql } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import {
  CHROMIUM,
  expectAccessible,
  hasChromium,
  newVisit,
  screenshot,
  useBrowser,
  type Visit,
} from '../support/browser.ts'
import { ADMIN, consoleDocuments, NOT_ADMIN } from '../support/console.ts'
import { useDatabase } from '../support/database.ts'
import { useServer } from '../support/server.ts'

const PATH = 'people/web-app'

describe.skipIf(!hasChromium)(`the admin console in Chromium (${CHROMIUM})`, async () => {
  const t = useDatabase()
  const server = useServer(t, { apply: await consoleDocuments() })
  const chromium = useBrowser()

  const visits: Visit[] = []
  const visit = async () => {
    // No app to stand in for: the console's redirects stay on the two listeners of the server.
    const opened = await newVisit(chromium.browser, ['https://app.test'])
    visits.push(opened)
    return opened
  }
  afterEach(async () => {
    // A refused save answers with its status (422 errors, 409 broadening not confirmed) and a person without
    // the role gets a 403 page: Chromium logs each such load. Any other error (a CSP violation) fails the test.
    const refusals = /^Failed to load resource: the server responded with a status of (403|409|422) .*\/admin\//
    const errors = visits.flatMap((opened) => opened.errors).filter((error) => !refusals.test(error))
    await Promise.all(visits.splice(0).map((opened) => opened.context.close()))
    expect(errors).toEqual([])
  })

  const versions = async (path = PATH) =>
    (
      await sql<{
        version: number
      }>`select version from policy_path_versions where path = ${path} order by version`.execute(t.db)
    ).rows.map((row) => row.version)

  /** Each page: accessible, and kept as a picture. */
  const look = async ({ page }: Visit, name: string) => {
    await expectAccessible(page)
    await screenshot(page, `console-${name}`)
  }

  const signIn = async (opened: Visit, person: { username: string; password: string }, pictures = false) => {
    const { page } = opened
    await page.goto(`${server.adminUrl}/admin/`)
    // Mandate's own sign-in page, on the public listener.
    await page.waitForURL((url) => url.origin === server.issuer)
    if (pictures) await look(opened, 'sign-in')
    await page.getByLabel('Username').fill(person.username)
    await page.getByLabel('Password').fill(person.password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    // The first time, the person allows the console to know who they are (openid only).
    await page.getByRole('button', { name: 'Allow' }).waitFor()
    if (pictures) await look(opened, 'consent')
    await page.getByRole('button', { name: 'Allow' }).click()
  }

  const editor = (opened: Visit) => opened.page.getByLabel('Document (YAML)')

  it('signs an administrator in, edits a path (a finding, a narrowing, a confirmed broadening) and rolls it back', async () => {
    const opened = await visit()
    const { page } = opened
    await signIn(opened, ADMIN, true)
    await page.waitForURL(`${server.adminUrl}/admin/policy-paths`)
    await page.getByRole('heading', { name: 'Policy paths' }).waitFor()
    await look(opened, 'policy-paths')

    // Search, by keyboard: the search field, typed, Enter.
    await page.getByLabel('Search paths').fill('web-app')
    await page.keyboard.press('Enter')
    await page.waitForURL(/q=web-app/)
    await page.getByRole('link', { name: PATH }).waitFor()
    expect(await page.getByRole('link', { name: 'people/helper-agent' }).count()).toBe(0)
    await page.getByRole('link', { name: PATH }).click()
    await page.getByRole('heading', { name: PATH }).waitFor()
    await page.getByRole('table', { name: 'Effective policy' }).waitFor()
    await look(opened, 'policy-path')

    // An unknown field: the error is shown inline, at its line and column, and nothing is saved.
    await page.getByRole('link', { name: `Edit ${PATH}` }).click()
    const original = await editor(opened).inputValue()
    await editor(opened).fill(original.replace('tokenLifetime: 120', 'tokenLifetime: 120\n  lifetime: 60'))
    await page.getByLabel('Reason for the change').fill('typo')
    await page.getByRole('button', { name: 'Save' }).click()
    const findings = page.getByRole('alert')
    await findings.getByText('unknown field lifetime').waitFor()
    expect(await findings.textContent()).toMatch(/Error, line 13, column 3: .*unknown field lifetime/)
    expect(await page.getByLabel('Reason for the change').inputValue()).toBe('typo')
    await look(opened, 'edit-finding')
    expect(await versions()).toEqual([1])

    // The same form posted with this browser's session but without the page's CSRF token: refused, nothing saved.
    const forged = await opened.context.request.post(
      `${server.adminUrl}/admin/policy-path/edit?name=people%2Fweb-app`,
      {
        form: {
          version: '1',
          yaml: original.replace('tokenLifetime: 120', 'tokenLifetime: 60'),
          reason: 'forged',
          intent: 'save',
        },
        headers: { origin: server.adminUrl },
        maxRedirects: 0,
      },
    )
    expect(forged.status()).toBe(403)
    expect(await versions()).toEqual([1])

    // A narrowing saves at once, as a new version.
    await editor(opened).fill(original.replace('tokenLifetime: 120', 'tokenLifetime: 60'))
    await page.getByLabel('Reason for the change').fill('shorter tokens for the web app')
    await page.getByRole('button', { name: 'Save' }).click()
    await page.getByRole('status').getByText('Saved as version 2.').waitFor()
    expect(await versions()).toEqual([1, 2])

    // A broadening is refused until confirmed: the finding says what broadens, a checkbox confirms it.
    await page.getByRole('link', { name: `Edit ${PATH}` }).click()
    await editor(opened).fill(original.replace('tokenLifetime: 120', 'tokenLifetime: 600'))
    await page.getByLabel('Reason for the change').fill('longer sessions requested by the web team')
    await page.getByRole('button', { name: 'Save' }).click()
    await page.locator('#broadening').waitFor()
    expect(await page.locator('#broadening').textContent()).toContain(
      'Broadens, at /spec/tokenLifetime: raises tokenLifetime 1m → 10m',
    )
    await look(opened, 'edit-broadening')
    expect(await versions()).toEqual([1, 2])
    await page.getByLabel('I confirm this change broadens the path').check()
    await page.getByRole('button', { name: 'Save' }).click()
    await page.getByRole('status').getByText('Saved as version 3.').waitFor()
    expect(await versions()).toEqual([1, 2, 3])

    // The history: version 3's changes, then a rollback to version 2 (a narrowing: no confirmation asked).
    await page.getByRole('link', { name: 'Changes in version 3' }).click()
    await page.getByRole('heading', { name: `${PATH}: version 2 to 3` }).waitFor()
    await look(opened, 'diff')
    await page.goBack()
    // Any two versions compared, from the history's form.
    await page.getByLabel('Compare version', { exact: true }).selectOption('1')
    await page.getByLabel('with version').selectOption('3')
    await page.getByRole('button', { name: 'Compare' }).click()
    await page.getByRole('heading', { name: `${PATH}: version 1 to 3` }).waitFor()
    expect(await page.getByRole('main').textContent()).toContain('raises tokenLifetime 2m → 10m')
    await page.goBack()
    await page.getByRole('link', { name: 'Roll back to version 2' }).click()
    await page.getByRole('heading', { name: `Roll back ${PATH} to version 2` }).waitFor()
    await page.getByLabel('Reason for the rollback').fill('the web team withdrew the request')
    await look(opened, 'rollback')
    await page.getByRole('button', { name: 'Roll back to version 2' }).click()
    await page.getByRole('status').getByText('Saved as version 4.').waitFor()
    expect(await versions()).toEqual([1, 2, 3, 4])
    // The history says who made each version and why.
    const history = await page.getByRole('table', { name: 'Versions' }).textContent()
    expect(history).toContain('admin-person:ada')
    expect(history).toContain('the web team withdrew the request')
    const audit = await sql<{ actor: string; data: { via: string; broadening: boolean } }>`
      select actor, data from audit_events where type = 'policy_path.changed' order by event_id`.execute(t.db)
    expect(audit.rows.map((row) => [row.actor, row.data.via, row.data.broadening])).toEqual([
      ['admin-person:ada', 'admin-console', false],
      ['admin-person:ada', 'admin-console', true],
      ['admin-person:ada', 'rollback to version 2', false],
    ])
  })

  it('runs a simulation from the editor, with the edited document as the candidate', async () => {
    const opened = await visit()
    const { page } = opened
    await signIn(opened, ADMIN)
    await page.waitForURL(`${server.adminUrl}/admin/policy-paths`)
    await page.goto(`${server.adminUrl}/admin/policy-path/edit?name=people%2Fhelper-agent`)
    const original = await editor(opened).inputValue()
    await editor(opened).fill(original.replace(/scopes:\n(\s+)- tickets:read\n/, 'scopes:\n'))
    await page.getByRole('button', { name: 'Simulate with this document' }).click()
    await page.getByRole('heading', { name: 'Simulate a token request' }).waitFor()
    expect(await page.getByLabel('Candidate documents (optional)').inputValue()).toContain('people/helper-agent')
    await page.getByLabel('Client id').fill('helper-agent')
    await page.getByLabel('Resource', { exact: true }).fill('https://tickets.test/')
    await page.getByLabel('Requested scope').fill('tickets:read tickets:write')
    await page
      .getByLabel('Subject token claims (token exchange)')
      .fill('{"sub": "carol", "client_id": "helper-agent", "scope": "tickets:read tickets:write"}')
    await page.getByRole('button', { name: 'Simulate', exact: true }).click()
    const result = page.getByRole('region', { name: /Result/ })
    await result.waitFor()
    // With the candidate, tickets:read is no longer the path's: asking for it is refused, and the page says by what.
    expect(await result.textContent()).toContain('Result: deny')
    expect(await result.textContent()).toContain('scope.not_allowed')
    expect(await result.textContent()).toContain('policy:people/helper-agent: removed tickets:read')
    expect(await result.textContent()).toContain('Candidates in placepeople/helper-agent')
    await look(opened, 'simulate')
    // Simulating saved nothing.
    expect(await versions('people/helper-agent')).toEqual([1])
  })

  it('shows decisions, approvals, audit events (filtered), clients and resources, each accessible', async () => {
    const opened = await visit()
    const { page } = opened
    await signIn(opened, ADMIN)
    await page.waitForURL(`${server.adminUrl}/admin/policy-paths`)
    // By keyboard: the first Tab reaches the skip link, which moves focus past the navigation to the content.
    await page.keyboard.press('Tab')
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to content')
    await page.keyboard.press('Enter')
    expect(await page.evaluate('document.activeElement.id')).toBe('main')
    for (const [link, heading, name] of [
      ['Decisions', 'Decisions', 'decisions'],
      ['Approvals', 'Approvals', 'approvals'],
      ['Audit', 'Audit events', 'audit'],
      ['Clients', 'Clients', 'clients'],
      ['Resources', 'Resources', 'resources'],
    ] as const) {
      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: link }).click()
      await page.getByRole('heading', { name: heading, exact: true }).waitFor()
      await look(opened, name)
    }
    await page.getByRole('link', { name: 'Audit' }).click()
    await page.getByLabel('Type').fill('admin_console.signed_in')
    await page.getByRole('button', { name: 'Filter' }).click()
    await page.waitForURL(/type=admin_console.signed_in/)
    const rows = page.getByRole('table', { name: 'Audit events, newest first' }).getByRole('row')
    expect(await rows.count()).toBeGreaterThan(1)
    for (const text of await rows.allTextContents())
      if (!text.includes('Type')) expect(text).toContain('admin_console.signed_in')
    await page.getByRole('link', { name: 'Clients' }).click()
    await page.getByText('mandate-admin-console').waitFor()
  })

  it('refuses a person without the mandate:admin role with a page saying why', async () => {
    const opened = await visit()
    await signIn(opened, NOT_ADMIN)
    await opened.page.getByRole('heading', { name: 'Not an administrator' }).waitFor()
    expect(await opened.page.getByRole('alert').textContent()).toContain('does not hold the mandate:admin role')
    await look(opened, 'not-admin')
  })
})
