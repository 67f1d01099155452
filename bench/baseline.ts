// The bench's two baselines: a minimal RFC 8693 token exchange on the same oidc-provider version Mandate
// runs (verify the subject JWT and the actor JWT with jose, sign an ES256 at+jwt; client_credentials;
// introspection of its own JWTs). BASELINE_DATABASE_URL set: the same, plus one INSERT per issued token
// and one primary-key SELECT per introspection, the least a server that keeps a row per token pays.
import { timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { type CryptoKey, exportJWK, generateKeyPair, importJWK, type JWK, type JWTPayload, jwtVerify } from 'jose'
import Provider, { type Configuration, errors, type KoaContextWithOIDC } from 'oidc-provider'
import pg from 'pg'
import { BENCH_CLIENTS, BENCH_RESOURCE, BENCH_SCOPE, IDP } from './fixtures.ts'

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'
const port = Number(process.env.BASELINE_PORT)
const issuer = `http://127.0.0.1:${port}`
const databaseUrl = process.env.BASELINE_DATABASE_URL
const pool = databaseUrl ? new pg.Pool({ connectionString: databaseUrl, max: 10 }) : undefined

await pool?.query(`create table if not exists issued_tokens (
  jti text primary key, client_id text not null, sub text not null, expires_at timestamptz not null,
  issued_at timestamptz not null default now())`)

const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
const signingJwk: JWK = { ...(await exportJWK(privateKey)), kid: 'baseline-1', alg: 'ES256', use: 'sig' }
// The demo IdP's key pair: its public half verifies the people's tokens the bench presents as subjects.
const { d: _private, ...idpJwk } = JSON.parse(
  readFileSync(new URL('../examples/demo-idp/private-key.json', import.meta.url), 'utf8'),
) as JWK
const idpKey = await importJWK(idpJwk, 'ES256')

const resourceServer = {
  scope: BENCH_SCOPE,
  audience: BENCH_RESOURCE,
  accessTokenTTL: 3600,
  accessTokenFormat: 'jwt' as const,
  jwt: { sign: { alg: 'ES256' as const } },
}

const configuration: Configuration = {
  clients: [
    {
      client_id: BENCH_CLIENTS.agent.id,
      client_secret: BENCH_CLIENTS.agent.secret,
      grant_types: ['client_credentials', TOKEN_EXCHANGE],
      redirect_uris: [],
      response_types: [],
      scope: BENCH_SCOPE,
      id_token_signed_response_alg: 'ES256',
    },
  ],
  jwks: { keys: [signingJwk] },
  responseTypes: [],
  scopes: [BENCH_SCOPE],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => BENCH_RESOURCE,
      useGrantedResource: () => false,
      getResourceServerInfo: () => resourceServer,
    },
  },
  extraTokenClaims: (_ctx, token) => token.extra,
  ttl: { ClientCredentials: resourceServer.accessTokenTTL },
  formats: pool ? { customizers: { jwt: async (_ctx, _token, jwt) => void (await recordToken(jwt.payload)) } } : {},
}

const recordToken = (payload: JWTPayload & { client_id?: unknown }) =>
  pool?.query('insert into issued_tokens (jti, client_id, sub, expires_at) values ($1, $2, $3, to_timestamp($4))', [
    payload.jti,
    payload.client_id,
    payload.sub,
    payload.exp,
  ])

const provider = new Provider(issuer, configuration)

async function verified(token: unknown, key: CryptoKey | Uint8Array, iss: string, aud?: string) {
  if (typeof token !== 'string') throw new errors.InvalidRequest('the subject_token or actor_token is invalid')
  try {
    const options = { issuer: iss, typ: 'at+jwt', algorithms: ['ES256'], ...(aud ? { audience: aud } : {}) }
    return (await jwtVerify(token, key, options)).payload
  } catch {
    throw new errors.InvalidRequest('the subject_token or actor_token is invalid')
  }
}

// RFC 8693 §2.1: the subject is a person's token from the IdP; an actor token must be one of ours held by the caller.
provider.registerGrantType(
  TOKEN_EXCHANGE,
  async (ctx) => {
    const { client, params } = ctx.oidc
    if (params.subject_token_type !== ACCESS_TOKEN_TYPE) throw new errors.InvalidRequest('unsupported token type')
    const subject = await verified(params.subject_token, idpKey, IDP.issuer, IDP.audience)
    let act: Record<string, unknown> = { sub: client.clientId }
    let notAfter = subject.exp ?? 0
    if (params.actor_token !== undefined) {
      const actor = await verified(params.actor_token, publicKey, issuer)
      if (actor.client_id !== client.clientId) throw new errors.InvalidRequest('the actor_token is invalid')
      act = { sub: actor.sub ?? client.clientId }
      notAfter = Math.min(notAfter, actor.exp ?? 0)
    }
    const requested = String(params.scope ?? BENCH_SCOPE).split(' ')
    const held = new Set(String(subject.scope ?? '').split(' '))
    if (!requested.every((scope) => scope === BENCH_SCOPE && held.has(scope)))
      throw new errors.InvalidScope('requested scope is not allowed', params.scope ?? '')
    const expiresIn = Math.min(900, notAfter - Math.floor(Date.now() / 1000))
    if (expiresIn <= 0) throw new errors.InvalidRequest('the subject_token or actor_token is invalid')
    const token = new provider.AccessToken({
      accountId: String(subject.sub),
      client,
      scope: requested.join(' '),
      expiresIn,
      resourceServer: new provider.ResourceServer(BENCH_RESOURCE, resourceServer),
      extra: { act },
    } as unknown as ConstructorParameters<typeof provider.AccessToken>[0])
    ctx.body = {
      access_token: await token.save(),
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: expiresIn,
      scope: requested.join(' '),
    }
  },
  ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'scope', 'requested_token_type'],
)

// oidc-provider introspects only tokens its adapter stores; ours are JWTs, so this endpoint is ours:
// the introspector's Basic credentials, the signature, and (with a database) the token's row.
const introspector = Buffer.from(
  `Basic ${Buffer.from(`${BENCH_CLIENTS.introspector.id}:${BENCH_CLIENTS.introspector.secret}`).toString('base64')}`,
)
provider.use(async (ctx: KoaContextWithOIDC, next) => {
  if (ctx.method !== 'POST' || ctx.path !== '/token/introspection') return next()
  const presented = Buffer.from(ctx.get('authorization'))
  if (presented.length !== introspector.length || !timingSafeEqual(presented, introspector)) {
    ctx.status = 401
    ctx.body = { error: 'invalid_client' }
    return
  }
  const chunks: Buffer[] = []
  for await (const chunk of ctx.req) chunks.push(chunk as Buffer)
  const token = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('token') ?? ''
  ctx.set('cache-control', 'no-store')
  ctx.body = (await introspect(token)) ?? { active: false }
})

async function introspect(token: string): Promise<Record<string, unknown> | undefined> {
  let payload: JWTPayload
  try {
    payload = (await jwtVerify(token, publicKey, { issuer, typ: 'at+jwt', algorithms: ['ES256'] })).payload
  } catch {
    return undefined
  }
  if (pool) {
    const { rowCount } = await pool.query('select 1 from issued_tokens where jti = $1', [payload.jti])
    if (rowCount !== 1) return undefined
  }
  return { active: true, token_type: 'Bearer', ...payload }
}

const server = provider.listen(port, '127.0.0.1')
const stop = () =>
  server.close(async () => {
    await pool?.end()
    process.exit(0)
  })
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
