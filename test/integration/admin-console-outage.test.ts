// The admin console fails closed when Postgres cannot be reached: a 503 page (with the console's headers and
// Retry-After), never a page read from nothing, never a change; back to normal once the database is.
import { sql } from 'kysely'
import { afterAll, describe, expect, it } from 'vitest'
import { ADMIN, consoleDocuments, signInAtConsole } from '../support/console.ts'
import { useDatabase } from '../support/database.ts'
import { connect } from '../support/global-setup.ts'
import { useServer } from '../support/server.ts'
import { browse, CookieJar, csrfOf } from '../support/sign-in.ts'

const t = useDatabase()
const server = useServer(t, { apply: await consoleDocuments() })

describe.runIf(t.isPostgres)('the console when Postgres is unreachable', () => {
  const name = () => new URL(t.url as string).pathname.slice(1)
  async function cutOff(allow: boolean) {
    const db = connect(new URL('/postgres', t.url as string).href)
    try {
      await sql`alter database ${sql.id(name())} with allow_connections ${sql.raw(String(allow))}`.execute(db)
      if (!allow)
        await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name()}`.execute(db)
    } finally {
      await db.destroy()
    }
  }
  afterAll(() => cutOff(true))

  it('answers pages and forms with a 503 page, and serves again once the database is back', async () => {
    const jar = new CookieJar()
    await signInAtConsole(jar, server.adminUrl, ADMIN)
    const url = `${server.adminUrl}/admin/policy-path/edit?name=people/web-app`
    const editor = await (await browse(jar, url)).text()
    await cutOff(false)
    for (const response of [
      await browse(jar, `${server.adminUrl}/admin/policy-paths`),
      await browse(jar, url, {
        form: { csrf: csrfOf(editor), version: '1', yaml: 'x: 1', reason: 'r', intent: 'save' },
        headers: { origin: server.adminUrl },
      }),
    ]) {
      expect(response.status).toBe(503)
      expect(response.headers.get('retry-after')).toBe('5')
      expect(response.headers.get('content-security-policy')).toContain("default-src 'none'")
      expect(await response.text()).toContain('Mandate cannot reach its database.')
    }
    await cutOff(true)
    let page = await browse(jar, `${server.adminUrl}/admin/policy-paths`)
    // The pool reconnects on the next request.
    for (let tries = 0; page.status !== 200 && tries < 20; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 250))
      page = await browse(jar, `${server.adminUrl}/admin/policy-paths`)
    }
    expect(page.status).toBe(200)
  })
})
