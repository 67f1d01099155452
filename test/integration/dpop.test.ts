// DPoP (RFC 9449) end to end: proofs bind tokens at every grant, the binding is kept in lineage and
// shown by introspection, a bound token is accepted as subject or actor token (and by the tasks and
// admin APIs) only with a proof of its key, proofs are single-use across requests, nonces work, and a
// client or a policy path may require bound tokens.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { DPOP_ALGORITHMS } from '../../src/dpop/proof.ts'
import { applyDocuments } from '../../src/manifests/apply.ts'
import { TOKEN_INVALID } from '../../src/oauth/descriptions.ts'
import { rowCount, useDatabase } from '../support/database.ts'
import { type DpopKey, dpopKey } from '../support/dpop.ts'
import { personToken } from '../support/idp.ts'
import { ACCESS_TOKEN, basic, form, introspect, jtiOf, secrets, TOKEN_EXCHANGE } from '../support/oauth.ts'
import { expectRefused } from '../support/refusals.ts'
import { TEST_APPLY, useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)
// A second process on the same database that requires nonces (MANDATE_DPOP__REQUIRE_NONCE).
const strict = useServer(t, { env: { MANDATE_DPOP__REQUIRE_NONCE: 'true' } })
// And a plain second process: proofs spent at one are spent at the other.
const other = useServer(t)
const tickets = 'https://tickets.test/'
const TE = TOKEN_EXCHANGE
const invalidToken = { status: 400, error: 'invalid_request', error_description: TOKEN_INVALID }
const proofRequired = { status: 400, error: 'invalid_dpop_proof', error_description: 'a DPoP proof is required' }
const proofInvalid = { status: 400, error: 'invalid_dpop_proof', error_description: 'the DPoP proof is invalid' }

const extraSecrets: Record<string, string> = {
  'dpop-agent': 'dpop-agent-secret-0123456789',
  'dpop-path-agent': 'dpop-path-agent-secret-012345',
}
const documents = `apiVersion: mandate/v1
kind: Client
metadata: { name: dpop-agent, description: every token request must carry a proof }
spec:
  profile: agent
  secret: ${extraSecrets['dpop-agent']}
  grantTypes: [client_credentials, ${TE}]
  scopes: [tickets:read]
  dpopBoundAccessTokens: true
---
apiVersion: mandate/v1
kind: Client
metadata: { name: dpop-path-agent }
spec: { profile: agent, secret: ${extraSecrets['dpop-path-agent']}, grantTypes: [client_credentials, ${TE}], scopes: [tickets:read] }
---
apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: acme/dpop-agent }
spec:
  bindings: [{ client: dpop-agent, resource: ${tickets}, grantType: ${TE} }]
---
apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: acme/dpop-required, description: bound tokens only }
spec:
  bindings:
    - { client: dpop-path-agent, resource: ${tickets}, grantType: ${TE} }
    - { client: dpop-path-agent, resource: ${tickets}, grantType: client_credentials }
  requireDpop: true
`

const secretOf = (clientId: string) => (secrets[clientId] ?? extraSecrets[clientId]) as string

/** A token endpoint (or tasks API) request by clientId, with a DPoP proof header when given. */
function call(
  base: string,
  path: string,
  clientId: string,
  params: Record<string, string | undefined>,
  proof?: string,
) {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basic(clientId, secretOf(clientId)),
      ...(proof ? { dpop: proof } : {}),
    },
    body: form(params),
  })
}
const tokenUrl = (base = server.url) => `${base}/token`

async function boundClientCredentials(clientId: string, key: DpopKey) {
  const response = await call(
    server.url,
    '/token',
    clientId,
    { grant_type: 'client_credentials', resource: tickets, scope: 'tickets:read' },
    await key.proof('POST', tokenUrl()),
  )
  const body = (await response.json()) as { access_token: string; token_type: string }
  expect(response.status, JSON.stringify(body)).toBe(200)
  return body
}

const exchangeParams = (subject: string, extra: Record<string, string | undefined> = {}) => ({
  grant_type: TE,
  subject_token: subject,
  subject_token_type: ACCESS_TOKEN,
  resource: tickets,
  ...extra,
})

async function boundExchange(clientId: string, key: DpopKey, subject: string) {
  const response = await call(
    server.url,
    '/token',
    clientId,
    exchangeParams(subject),
    await key.proof('POST', tokenUrl()),
  )
  const body = (await response.json()) as { access_token: string; token_type: string }
  expect(response.status, JSON.stringify(body)).toBe(200)
  return body
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-dpop-'))
  writeFileSync(join(dir, 'documents.yaml'), documents)
  expect((await applyDocuments(t.db, [dir], TEST_APPLY)).findings).toEqual([])
})

describe('DPoP-bound tokens', () => {
  it('are advertised in discovery', async () => {
    const metadata = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >
    expect(metadata.dpop_signing_alg_values_supported).toEqual([...DPOP_ALGORITHMS])
  })

  it('keep their binding in lineage and introspection (client_credentials)', async () => {
    const key = await dpopKey()
    const { access_token, token_type } = await boundClientCredentials('agent-one', key)
    expect(token_type).toBe('DPoP')
    expect(decodeJwt(access_token).cnf).toEqual({ jkt: key.jkt })
    const row = await t.db
      .selectFrom('issued_tokens')
      .select('jkt')
      .where('jti', '=', jtiOf(access_token))
      .executeTakeFirstOrThrow()
    expect(row.jkt).toBe(key.jkt)
    expect(await introspect(server.url, access_token)).toMatchObject({
      active: true,
      token_type: 'DPoP',
      cnf: { jkt: key.jkt },
    })
  })

  it("bind an exchanged token to the exchanging client's key", async () => {
    const key = await dpopKey()
    const { access_token, token_type } = await boundExchange(
      'agent-one',
      key,
      await personToken({ scope: 'tickets:read' }),
    )
    expect(token_type).toBe('DPoP')
    expect(decodeJwt(access_token)).toMatchObject({ cnf: { jkt: key.jkt }, act: { sub: 'agent-one' } })
    expect(await introspect(server.url, access_token)).toMatchObject({ token_type: 'DPoP', cnf: { jkt: key.jkt } })
  })

  it('are exchanged only with a proof of their key, never into a bearer token', async () => {
    const key = await dpopKey()
    const { access_token: bound } = await boundExchange('agent-one', key, await personToken({ scope: 'tickets:read' }))
    // sub-agent may work from agent-one's tokens, but it cannot prove agent-one's key.
    await expectRefused(t.db, () => call(server.url, '/token', 'sub-agent', exchangeParams(bound)), {
      ...invalidToken,
      reason: 'subject_token.key_not_proven',
    })
    const other = await dpopKey()
    await expectRefused(
      t.db,
      async () => call(server.url, '/token', 'sub-agent', exchangeParams(bound), await other.proof('POST', tokenUrl())),
      { ...invalidToken, reason: 'subject_token.key_not_proven' },
    )
    // The holder, proving its key, narrows its own token again: still bound, to the same key.
    const again = await boundExchange('agent-one', key, bound)
    expect(decodeJwt(again.access_token).cnf).toEqual({ jkt: key.jkt })
  })

  it('are accepted as actor tokens only with a proof of their key', async () => {
    const key = await dpopKey()
    const { access_token: actor } = await boundClientCredentials('agent-one', key)
    const subject = await personToken({ scope: 'tickets:read' })
    await expectRefused(
      t.db,
      () =>
        call(
          server.url,
          '/token',
          'agent-one',
          exchangeParams(subject, { actor_token: actor, actor_token_type: ACCESS_TOKEN }),
        ),
      { ...invalidToken, reason: 'actor_token.key_not_proven' },
    )
    const response = await call(
      server.url,
      '/token',
      'agent-one',
      exchangeParams(subject, { actor_token: actor, actor_token_type: ACCESS_TOKEN }),
      await key.proof('POST', tokenUrl()),
    )
    expect(response.status).toBe(200)
  })

  it('need the proof at the tasks API too', async () => {
    const key = await dpopKey()
    const { access_token: bound } = await boundExchange('agent-one', key, await personToken({ scope: 'tickets:read' }))
    const params = { subject_token: bound, subject_token_type: ACCESS_TOKEN, purpose: 'p', resource: tickets }
    await expectRefused(t.db, () => call(server.url, '/tasks', 'agent-one', params), invalidToken)
    const otherProof = await (await dpopKey()).proof('POST', `${server.url}/tasks`)
    await expectRefused(t.db, () => call(server.url, '/tasks', 'agent-one', params, otherProof), invalidToken)
    const created = await call(
      server.url,
      '/tasks',
      'agent-one',
      params,
      await key.proof('POST', `${server.url}/tasks`),
    )
    expect(created.status).toBe(201)
  })

  it('need the DPoP scheme and a proof with ath at the admin API', async () => {
    const key = await dpopKey()
    const issued = await call(
      server.url,
      '/token',
      'mandate-admin',
      { grant_type: 'client_credentials', resource: 'urn:mandate:admin', scope: 'mandate:admin' },
      await key.proof('POST', tokenUrl()),
    )
    const { access_token: admin } = (await issued.json()) as { access_token: string }
    expect(decodeJwt(admin).cnf).toEqual({ jkt: key.jkt })
    const url = `${server.adminUrl}/admin/v1/audit`
    const get = (authorization: string, proof?: string) =>
      fetch(url, { headers: { authorization, ...(proof ? { dpop: proof } : {}) } })
    const refused = async (response: Response, error = 'invalid_token') => {
      expect({ status: response.status, body: await response.json() }).toEqual({
        status: 401,
        body: { error, error_description: 'admin authentication is required' },
      })
      expect(response.headers.get('www-authenticate')).toContain('DPoP')
    }
    await refused(await get(`Bearer ${admin}`))
    await refused(await get(`DPoP ${admin}`))
    await refused(await get(`DPoP ${admin}`, await key.proof('GET', url)), 'invalid_dpop_proof')
    const proof = await key.proof('GET', url, { accessToken: admin })
    expect((await get(`DPoP ${admin}`, proof)).status).toBe(200)
    // A proof is spent once.
    await refused(await get(`DPoP ${admin}`, proof))
    await refused(await get(`DPoP ${admin}`, await (await dpopKey()).proof('GET', url, { accessToken: admin })))
    // An unbound admin token is refused with the DPoP scheme.
    const unbound = await call(server.url, '/token', 'mandate-admin', {
      grant_type: 'client_credentials',
      resource: 'urn:mandate:admin',
      scope: 'mandate:admin',
    })
    const { access_token: bearer } = (await unbound.json()) as { access_token: string }
    await refused(await get(`DPoP ${bearer}`, await key.proof('GET', url, { accessToken: bearer })))
    expect((await get(`Bearer ${bearer}`)).status).toBe(200)
  })
})

describe('DPoP proofs', () => {
  it('are single-use: a replayed proof is refused at the exchange and at client_credentials', async () => {
    const key = await dpopKey()
    const proof = await key.proof('POST', tokenUrl())
    const subject = await personToken({ scope: 'tickets:read' })
    expect((await call(server.url, '/token', 'agent-one', exchangeParams(subject), proof)).status).toBe(200)
    await expectRefused(t.db, () => call(server.url, '/token', 'agent-one', exchangeParams(subject), proof), {
      ...proofInvalid,
      reason: 'request.dpop_invalid',
    })
    const ccProof = await key.proof('POST', tokenUrl())
    const cc = { grant_type: 'client_credentials', resource: tickets, scope: 'tickets:read' }
    expect((await call(server.url, '/token', 'agent-one', cc, ccProof)).status).toBe(200)
    const replayed = await call(server.url, '/token', 'agent-one', cc, ccProof)
    expect({ status: replayed.status, body: await replayed.json() }).toEqual({
      status: 400,
      body: { error: 'invalid_grant', error_description: 'grant request is invalid' },
    })
    // ... and a proof spent at the exchange cannot be spent at client_credentials (one /token URL).
    const crossGrant = await key.proof('POST', tokenUrl())
    expect((await call(server.url, '/token', 'agent-one', exchangeParams(subject), crossGrant)).status).toBe(200)
    const cross = await call(server.url, '/token', 'agent-one', cc, crossGrant)
    expect({ status: cross.status, body: await cross.json() }).toEqual({
      status: 400,
      body: { error: 'invalid_grant', error_description: 'grant request is invalid' },
    })
  })

  it('are single-use across processes', async () => {
    const key = await dpopKey()
    const subject = await personToken({ scope: 'tickets:read' })
    // Each process checks its own URL (htu), so each proof names its server; the jti is the same.
    const proofFor = (base: string) => key.proof('POST', tokenUrl(base), { jti: 'one-jti-for-both' })
    const first = await call(server.url, '/token', 'agent-one', exchangeParams(subject), await proofFor(server.url))
    expect(first.status).toBe(200)
    await expectRefused(
      t.db,
      async () => call(other.url, '/token', 'agent-one', exchangeParams(subject), await proofFor(other.url)),
      { ...proofInvalid, reason: 'request.dpop_invalid' },
    )
  })

  it('are single-use when sent 8 times at once', async () => {
    const key = await dpopKey()
    const proof = await key.proof('POST', tokenUrl())
    const subject = await personToken({ scope: 'tickets:read' })
    const statuses = await Promise.all(
      Array.from({ length: 8 }, () =>
        call(server.url, '/token', 'agent-one', exchangeParams(subject), proof).then((r) => r.status),
      ),
    )
    expect(statuses.sort()).toEqual([200, 400, 400, 400, 400, 400, 400, 400])
    const issued = await t.db
      .selectFrom('decisions')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('result', '=', 'allow')
      .where('subject_ref', '=', decodeJwt(subject).jti as string)
      .executeTakeFirstOrThrow()
    expect(Number(issued.n)).toBe(1)
  })

  it('must name this endpoint (htu) and method (htm)', async () => {
    const key = await dpopKey()
    const subject = await personToken({ scope: 'tickets:read' })
    await expectRefused(
      t.db,
      async () =>
        call(
          server.url,
          '/token',
          'agent-one',
          exchangeParams(subject),
          await key.proof('POST', 'https://elsewhere.test/token'),
        ),
      { ...proofInvalid, reason: 'request.dpop_invalid' },
    )
    await expectRefused(
      t.db,
      async () => call(server.url, '/token', 'agent-one', exchangeParams(subject), await key.proof('GET', tokenUrl())),
      { ...proofInvalid, reason: 'request.dpop_invalid' },
    )
  })

  it('carry a server nonce where one is required, and a nonce from one process is good at another', async () => {
    const key = await dpopKey()
    const subject = await personToken({ scope: 'tickets:read' })
    const first = await call(
      strict.url,
      '/token',
      'agent-one',
      exchangeParams(subject),
      await key.proof('POST', tokenUrl(strict.url)),
    )
    const nonce = first.headers.get('dpop-nonce')
    expect({ status: first.status, body: await first.json(), nonce: typeof nonce }).toEqual({
      status: 400,
      body: { error: 'use_dpop_nonce', error_description: 'a DPoP proof with the server-provided nonce is required' },
      nonce: 'string',
    })
    const second = await call(
      strict.url,
      '/token',
      'agent-one',
      exchangeParams(subject),
      await key.proof('POST', tokenUrl(strict.url), { nonce: nonce as string }),
    )
    expect(second.status).toBe(200)
    // client_credentials (oidc-provider's own DPoP handling) accepts the same nonce.
    const cc = await call(
      strict.url,
      '/token',
      'agent-one',
      { grant_type: 'client_credentials', resource: tickets, scope: 'tickets:read' },
      await key.proof('POST', tokenUrl(strict.url), { nonce: nonce as string }),
    )
    expect(cc.status).toBe(200)
  })
})

describe('DPoP nonces at our own APIs', () => {
  it('are asked for by the tasks API where required, and accepted there', async () => {
    const key = await dpopKey()
    // A token bound at the strict process itself (its issuer), obtained with its nonce.
    const person = await personToken({ scope: 'tickets:read' })
    const asked = await call(
      strict.url,
      '/token',
      'agent-one',
      exchangeParams(person),
      await key.proof('POST', tokenUrl(strict.url)),
    )
    const given = asked.headers.get('dpop-nonce') as string
    const exchanged = await call(
      strict.url,
      '/token',
      'agent-one',
      exchangeParams(person),
      await key.proof('POST', tokenUrl(strict.url), { nonce: given }),
    )
    const { access_token: bound } = (await exchanged.json()) as { access_token: string }
    const params = { subject_token: bound, subject_token_type: ACCESS_TOKEN, purpose: 'p', resource: tickets }
    const tasks = await rowCount(t.db, 'tasks')
    const first = await call(strict.url, '/tasks', 'agent-one', params, await key.proof('POST', `${strict.url}/tasks`))
    const nonce = first.headers.get('dpop-nonce')
    expect({ status: first.status, body: await first.json(), nonce: typeof nonce }).toEqual({
      status: 400,
      body: { error: 'use_dpop_nonce', error_description: 'a DPoP proof with the server-provided nonce is required' },
      nonce: 'string',
    })
    expect(await rowCount(t.db, 'tasks')).toBe(tasks)
    const second = await call(
      strict.url,
      '/tasks',
      'agent-one',
      params,
      await key.proof('POST', `${strict.url}/tasks`, { nonce: nonce as string }),
    )
    expect(second.status).toBe(201)
  })
})

describe('requiring DPoP', () => {
  it('a client registered with dpopBoundAccessTokens gets no token without a proof', async () => {
    await expectRefused(
      t.db,
      () => call(server.url, '/token', 'dpop-agent', { grant_type: 'client_credentials', resource: tickets }),
      proofRequired,
    )
    await expectRefused(
      t.db,
      async () =>
        call(server.url, '/token', 'dpop-agent', exchangeParams(await personToken({ scope: 'tickets:read' }))),
      { ...proofRequired, reason: 'request.dpop_required' },
    )
    const key = await dpopKey()
    expect((await boundClientCredentials('dpop-agent', key)).token_type).toBe('DPoP')
    expect((await boundExchange('dpop-agent', key, await personToken({ scope: 'tickets:read' }))).token_type).toBe(
      'DPoP',
    )
  })

  it('a policy path with requireDpop issues only bound tokens, for its client_credentials and exchange bindings', async () => {
    await expectRefused(
      t.db,
      () => call(server.url, '/token', 'dpop-path-agent', { grant_type: 'client_credentials', resource: tickets }),
      proofRequired,
    )
    await expectRefused(
      t.db,
      async () =>
        call(server.url, '/token', 'dpop-path-agent', exchangeParams(await personToken({ scope: 'tickets:read' }))),
      { ...proofRequired, reason: 'request.dpop_required' },
    )
    const key = await dpopKey()
    expect((await boundClientCredentials('dpop-path-agent', key)).token_type).toBe('DPoP')
    expect((await boundExchange('dpop-path-agent', key, await personToken({ scope: 'tickets:read' }))).token_type).toBe(
      'DPoP',
    )
  })
})
