// The admin console's people (an administrator, and a person without the role) and a sign-in through the
// console without a browser: real HTTP across the admin and public listeners, forms posted as a browser would.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hashPassword } from '../../src/users/password.ts'
import { peopleDocuments } from './people.ts'
import { browse, type CookieJar, csrfOf } from './sign-in.ts'

export const ADMIN = { username: 'ada', password: 'ada-correct-horse-42' }
export const NOT_ADMIN = { username: 'carol', password: 'carol-correct-horse-42' }

/** A User document for ada, with or without the mandate:admin role. */
export async function adminUserDocument(roles: string[] = ['mandate:admin'], hash?: string): Promise<string> {
  return `apiVersion: mandate/v1
kind: User
metadata: { name: ${ADMIN.username} }
spec:
  displayName: Ada Admin
  passwordHash: "${hash ?? (await hashPassword(ADMIN.password))}"
  roles: [${roles.join(', ')}]
`
}

/** A folder of one document, for applyDocuments. */
export function folderWith(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-console-'))
  writeFileSync(join(dir, 'documents.yaml'), text)
  return dir
}

/** The people documents (fixtures, carol and the rest) plus ada, the administrator. */
export async function consoleDocuments(): Promise<string[]> {
  return [...(await peopleDocuments()), folderWith(await adminUserDocument())]
}

export interface ConsolePage {
  response: Response
  url: string
  html: string
}

/**
 * From the console's first page to wherever sign-in ends: redirects followed across both listeners, the
 * sign-in form filled, consent allowed.
 */
export async function signInAtConsole(
  jar: CookieJar,
  adminUrl: string,
  person: { username: string; password: string },
  /** The console's configured URL, when it is not adminUrl (a proxy's): redirects there reach adminUrl. */
  consoleUrl = adminUrl,
): Promise<ConsolePage> {
  let url = `${adminUrl}/admin/`
  let response = await browse(jar, url)
  for (let hops = 0; hops < 20; hops++) {
    const location = response.headers.get('location')
    if (response.status >= 300 && response.status < 400 && location) {
      url = new URL(location, url).href.replace(consoleUrl, adminUrl)
      response = await browse(jar, url)
      continue
    }
    const html = await response.text()
    const form = /<form method="post" action="([^"]+)"/.exec(html)?.[1]
    if (html.includes('name="password"') && form) {
      response = await browse(jar, new URL(form, url).href, {
        form: { csrf: csrfOf(html), username: person.username, password: person.password },
        headers: { origin: new URL(url).origin },
      })
      continue
    }
    if (html.includes('value="allow"') && form) {
      response = await browse(jar, new URL(form, url).href, {
        form: { csrf: csrfOf(html), decision: 'allow' },
        headers: { origin: new URL(url).origin },
      })
      continue
    }
    return { response, url, html }
  }
  throw new Error('sign-in did not end')
}
