// The console's pages are text escaped by construction: a document, a finding or a name typed by anyone is
// shown as text, never markup — even inside the editor's textarea — and every page has its landmarks.
import { describe, expect, it } from 'vitest'
import { consolePage } from '../../src/console/layout.ts'
import { editPage } from '../../src/console/edit-views.ts'
import { listPage, pathHref } from '../../src/console/policy-views.ts'
import { html } from '../../src/pages/html.ts'

const frame = { who: { username: 'ada', csrf: 'token"><b>' } }

describe('console pages', () => {
  it('escapes the document in the editor, its findings, the reason and the CSRF token', () => {
    const page = editPage(frame, {
      name: 'acme/<x>',
      version: 3,
      yaml: 'a: </textarea><script>alert(1)</script>',
      reason: '"><img src=x>',
      findings: [{ severity: 'error', code: 'schema', message: '<b>bad</b>', path: '/spec', line: 1, column: 4 }],
      confirm: false,
    })
    expect(page).not.toContain('<script>')
    expect(page).not.toContain('<img')
    expect(page).not.toContain('<b>')
    expect(page).toContain('a: &lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;</textarea>')
    expect(page).toContain('Error</strong>, line 1, column 4: &lt;b&gt;bad&lt;/b&gt;')
    expect(page).toContain('<input type="hidden" name="csrf" value="token&quot;&gt;&lt;b&gt;">')
    expect(page).toContain('action="/admin/policy-path/edit?name=acme%2F%3Cx%3E"')
  })

  it('links paths by a query parameter, so a name with "/" or "?" stays one name', () => {
    expect(pathHref('a/b?c=d', { from: 1 }, '/diff')).toBe('/admin/policy-path/diff?name=a%2Fb%3Fc%3Dd&from=1')
    const page = listPage(frame, '"q', [])
    expect(page).toContain('value="&quot;q"')
    expect(page).toContain('No policy paths match.')
  })

  it('has a skip link, a main landmark, the stylesheet and no script', () => {
    const page = consolePage('T', frame, html`<h1>T</h1>`)
    expect(page).toContain('<a class="skip" href="#main">Skip to content</a>')
    expect(page).toContain('<main id="main" tabindex="-1">')
    expect(page).toContain('<link rel="stylesheet" href="/admin/console.css">')
    expect(page).not.toMatch(/<script|\sstyle=|\son[a-z]+=/i)
  })
})
