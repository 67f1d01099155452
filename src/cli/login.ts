// `mandate login <username>`: the authorization code flow with PKCE (RFC 7636 S256) in the terminal, as
// a person's browser would run it against Mandate's own pages: the sign-in form (password read from
// standard input, never an argument), the consent form, then the code redeemed at the token endpoint.
// For demos and scripts against a local server; real apps send people to /auth in a browser.
import { createHash, randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline/promises'

export interface LoginOptions {
  issuer: string
  username: string
  password: string
  clientId: string
  clientSecret?: string | undefined
  redirectUri: string
  scope: string
  resource?: string | undefined
  /** Answers the consent page; undefined: ask on the terminal (a pipe cannot answer, so it denies). */
  consent?: boolean | undefined
  /** Where the consent page's words are shown. */
  say(line: string): void
}

export type LoginResult = { ok: true; tokens: Record<string, unknown> } | { ok: false; message: string }

class Jar {
  readonly cookies = new Map<string, string>()
  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const pair = line.split(';')[0] ?? ''
      const at = pair.indexOf('=')
      this.cookies.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim())
    }
  }
  header = () => [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
}

const text = (html: string) =>
  html
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .trim()

export async function login(options: LoginOptions): Promise<LoginResult> {
  const jar = new Jar()
  const origin = new URL(options.issuer).origin
  const verifier = randomBytes(32).toString('base64url')
  const state = randomBytes(16).toString('base64url')
  const auth = new URL('/auth', options.issuer)
  for (const [name, value] of Object.entries({
    response_type: 'code',
    client_id: options.clientId,
    redirect_uri: options.redirectUri,
    scope: options.scope,
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...(options.resource ? { resource: options.resource } : {}),
  }))
    auth.searchParams.set(name, value)

  const go = async (url: string, form?: Record<string, string>) => {
    const response = await fetch(url, {
      method: form ? 'POST' : 'GET',
      headers: { cookie: jar.header(), ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      redirect: 'manual',
      ...(form ? { body: new URLSearchParams(form) } : {}),
    })
    jar.store(response)
    return response
  }
  // Follows redirects on the issuer; stops at a page, or at the redirect back to the client.
  const follow = async (first: Response, from: string) => {
    let response = first
    let url = from
    for (let hops = 0; hops < 10; hops++) {
      const location = response.headers.get('location')
      if (response.status < 300 || response.status >= 400 || !location) break
      const next = new URL(location, url)
      if (next.origin !== origin) return { url: next.href, html: '', back: next }
      url = next.href
      response = await go(url)
    }
    return { url, html: await response.text(), status: response.status, back: undefined }
  }
  const formOf = (html: string) => ({
    action: /<form method="post" action="([^"]+)"/.exec(html)?.[1],
    csrf: /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '',
  })

  let page = await follow(await go(auth.href), auth.href)
  if (!page.back && page.html.includes('name="password"')) {
    const form = formOf(page.html)
    if (!form.action) return { ok: false, message: 'the sign-in page has no form' }
    const action = new URL(form.action, options.issuer).href
    page = await follow(
      await go(action, { csrf: form.csrf, username: options.username, password: options.password }),
      action,
    )
    const error = /<p class="error"[^>]*>([^<]+)<\/p>/.exec(page.html)?.[1]
    if (!page.back && error) return { ok: false, message: text(error) }
  }
  if (!page.back && page.html.includes('value="allow"')) {
    options.say(text(/<h1>([\s\S]*?)<\/h1>/.exec(page.html)?.[1] ?? ''))
    for (const item of page.html.matchAll(/<li>([\s\S]*?)<\/li>/g)) options.say(`  - ${text(item[1] as string)}`)
    const allow = options.consent ?? (await ask('Allow? [y/N] '))
    const form = formOf(page.html)
    const action = new URL(form.action ?? '', options.issuer).href
    page = await follow(await go(action, { csrf: form.csrf, decision: allow ? 'allow' : 'deny' }), action)
  }
  if (!page.back)
    return {
      ok: false,
      message: text(/<p class="error"[^>]*>([\s\S]*?)<\/p>/.exec(page.html)?.[1] ?? 'the sign-in did not complete'),
    }
  const back = page.back
  if (back.searchParams.get('state') !== state) return { ok: false, message: 'the answer does not carry our state' }
  const refused = back.searchParams.get('error')
  if (refused) return { ok: false, message: `${refused}: ${back.searchParams.get('error_description') ?? ''}` }

  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' }
  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    code: back.searchParams.get('code') ?? '',
    redirect_uri: options.redirectUri,
    code_verifier: verifier,
  })
  if (options.clientSecret)
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`).toString('base64')}`
  else body.set('client_id', options.clientId)
  const token = await fetch(new URL('/token', options.issuer), { method: 'POST', headers, body })
  const tokens = (await token.json()) as Record<string, unknown>
  if (!token.ok) return { ok: false, message: `${tokens.error}: ${tokens.error_description ?? ''}` }
  return { ok: true, tokens }
}

async function ask(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false
  const readline = createInterface({ input: process.stdin, output: process.stderr })
  try {
    return /^y(es)?$/i.test((await readline.question(question)).trim())
  } finally {
    readline.close()
  }
}
