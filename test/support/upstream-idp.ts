// A second OpenID provider for upstream sign-in tests: a bare oidc-provider on 127.0.0.1 with its dev
// login and consent forms (any login and password), PKCE required, ES256 ID tokens carrying the
// accounts' profile claims. signInUpstream plays the person's browser against it with real HTTP.
import { generateKeyPairSync } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import Provider from 'oidc-provider'

export interface UpstreamAccount {
  email?: string
  name?: string
  preferred_username?: string
}

export interface UpstreamIdp {
  readonly issuer: string
  readonly jwksUri: string
  /** Profile claims by login (the sub); a login not listed signs in with sub alone. */
  readonly accounts: Map<string, UpstreamAccount>
  close(): Promise<void>
}

export async function startUpstreamIdp(options: {
  clients: Array<{ clientId: string; clientSecret: string }>
  redirectUri: string
}): Promise<UpstreamIdp> {
  let handler: (req: IncomingMessage, res: ServerResponse) => unknown = (_req, res) => res.writeHead(503).end()
  const server = createServer((req, res) => handler(req, res))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const accounts = new Map<string, UpstreamAccount>()
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const provider = new Provider(issuer, {
    clients: options.clients.map(({ clientId, clientSecret }) => ({
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [options.redirectUri],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
    })),
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'upstream-1', alg: 'ES256', use: 'sig' }] },
    cookies: { keys: ['upstream-idp-test-cookie-key'] },
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    // Profile claims in the ID token itself, as most company IdPs send them.
    conformIdTokenClaims: false,
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600 },
    claims: { openid: ['sub'], email: ['email'], profile: ['name', 'preferred_username'] },
    findAccount: (_ctx, sub) => ({
      accountId: sub,
      claims: () => ({ sub, ...accounts.get(sub) }),
    }),
  })
  handler = provider.callback()
  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    accounts,
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

/**
 * The person's browser: from the provider's authorization URL, through its login form (this login, any
 * password) and consent form, to the redirect back to `redirectUri`, returned as is. `decline`: the person
 * cancels at the login form (the provider answers error=access_denied).
 */
export async function signInUpstream(
  authorizationUrl: URL,
  options: { login: string; redirectUri: string; decline?: boolean },
): Promise<URL> {
  const jar = new Map<string, string>()
  const send = async (url: URL, init: { method?: string; body?: URLSearchParams } = {}) => {
    const response = await fetch(url, {
      method: init.method ?? 'GET',
      redirect: 'manual',
      headers: { cookie: [...jar].map(([name, value]) => `${name}=${value}`).join('; ') },
      ...(init.body ? { body: init.body } : {}),
    })
    for (const cookie of response.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';')
      const at = pair.indexOf('=')
      jar.set(pair.slice(0, at), pair.slice(at + 1))
    }
    return response
  }
  let response = await send(authorizationUrl)
  let url = authorizationUrl
  for (let step = 0; step < 20; step++) {
    const location = response.headers.get('location')
    if (location) {
      url = new URL(location, url)
      if (url.href.startsWith(options.redirectUri)) return url
      response = await send(url)
      continue
    }
    const page = await response.text()
    if (response.status !== 200) throw new Error(`upstream answered ${response.status} at ${url.href}: ${page}`)
    const prompt = /name="prompt" value="([a-z]+)"/.exec(page)?.[1]
    const action = /<form[^>]* action="([^"]+)"/.exec(page)?.[1]
    if (!prompt || !action) throw new Error(`no interaction form at ${url.href}`)
    if (options.decline && prompt === 'login') {
      response = await send(new URL(`${new URL(action, url).pathname}/abort`, url))
      continue
    }
    const body = new URLSearchParams({
      prompt,
      ...(prompt === 'login' ? { login: options.login, password: 'any' } : {}),
    })
    url = new URL(action.replaceAll('&amp;', '&'), url)
    response = await send(url, { method: 'POST', body })
  }
  throw new Error('the upstream sign-in did not end')
}
