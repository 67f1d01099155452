// The authorization boundaries the documents promise, enforced at every grant: a client's registered
// scopes cap what it gets; whose token the subject is; chains stay honest (no splicing, no swapped
// roles, no cycles); trusted issuers' tokens are bounded in time and grant nothing they do not say.
// Every refusal: exact status and body, nothing issued, nothing created, one decision record.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { sql } from 'kysely'
import { beforeAll, describe, expect, it } from 'vitest'
import { applyDocuments } from '../../src/manifests/apply.ts'
import { TOKEN_INVALID } from '../../src/oauth/descriptions.ts'
import { clientAssertion, JWT_BEARER } from '../support/client-assertion.ts'
import { useDatabase } from '../support/database.ts'
import { personToken } from '../support/idp.ts'
import {
  ACCESS_TOKEN,
  accessToken,
  exchange,
  exchanged,
  introspect,
  jtiOf,
  post,
  TOKEN_EXCHANGE,
} from '../support/oauth.ts'
import { expectRefused } from '../support/refusals.ts'
import { clientCredentialsRequest, taskRequest } from '../support/requests.ts'
import { TEST_APPLY, useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)
const tickets = 'https://tickets.test/'
const TE = TOKEN_EXCHANGE

const invalidToken = { status: 400, error: 'invalid_request', error_description: TOKEN_INVALID }
const invalidScope = { status: 400, error: 'invalid_scope', error_description: 'the requested scope is not allowed' }
const invalidClient = { status: 401, error: 'invalid_client', error_description: 'client authentication failed' }

const secrets: Record<string, string> = {
  'narrow-agent': 'narrow-agent-secret-0123456',
  'holder-agent': 'holder-agent-secret-0123456',
  'issuer-agent': 'issuer-agent-secret-0123456',
}
const documents = `apiVersion: mandate/v1
kind: Client
metadata: { name: narrow-agent, description: registered for tickets:read only }
spec: { profile: agent, secret: ${secrets['narrow-agent']}, grantTypes: [${TE}], scopes: [tickets:read] }
---
apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: acme/narrow, description: allows more than narrow-agent is registered for }
spec:
  bindings: [{ client: narrow-agent, resource: ${tickets}, grantType: ${TE} }]
  scopes: [tickets:read, tickets:write]
---
apiVersion: mandate/v1
kind: Client
metadata: { name: holder-agent }
spec: { profile: agent, secret: ${secrets['holder-agent']}, grantTypes: [${TE}], scopes: [tickets:read, tickets:write] }
---
apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: holders-demo, description: accepts the impersonator's tokens as subject tokens }
spec:
  bindings: [{ client: holder-agent, resource: ${tickets}, grantType: ${TE} }]
  subjectTokens: { issuers: [self], holders: [impersonator] }
  delegation: { maxDepth: 2 }
---
apiVersion: mandate/v1
kind: Issuer
metadata: { name: ceiling-idp, description: its tokens without scope get the policy ceiling }
spec:
  issuer: https://ceiling-idp.test
  algorithms: [ES256]
  audience: https://mandate.test
  tokensWithoutScope: policyCeiling
  jwks:
    keys:
      - { kty: EC, crv: P-256, kid: idp-1, x: wVqB95h0QLZrWaCxHenF2Qdc5EbdRAD3Sn9c__ZDW6c, y: w0W_ITAEFlv-Fqcarts-HhGBqxaPMYvjNIW0Sg4soRA }
---
apiVersion: mandate/v1
kind: Client
metadata: { name: issuer-agent }
spec: { profile: agent, secret: ${secrets['issuer-agent']}, grantTypes: [${TE}], scopes: [tickets:read, tickets:write] }
---
apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: open-issuers }
spec:
  bindings: [{ client: issuer-agent, resource: ${tickets}, grantType: ${TE} }]
  subjectTokens: { issuers: [test-idp, ceiling-idp] }
  scopes: [tickets:read]
  delegation: { maxDepth: 2 }
`

const exchangeAs = (clientId: string, params: Record<string, string | string[] | undefined>) =>
  post(
    `${server.url}/token`,
    { grant_type: TE, subject_token_type: ACCESS_TOKEN, ...params },
    { clientId, secret: secrets[clientId] as string },
  )

const alice = (scope = 'tickets:read tickets:write') => accessToken(server.url, 'alice-app', { scope })

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-boundaries-'))
  writeFileSync(join(dir, 'documents.yaml'), documents)
  expect((await applyDocuments(t.db, [dir], TEST_APPLY)).findings).toEqual([])
})

describe("a client's registered scopes cap every grant", () => {
  it('refuses an exchange asking beyond them, and grants only within them by default', async () => {
    const subject = await alice()
    await expectRefused(
      t.db,
      () => exchangeAs('narrow-agent', { subject_token: subject, resource: tickets, scope: 'tickets:write' }),
      { ...invalidScope, reason: 'scope.not_allowed' },
    )
    const response = await exchangeAs('narrow-agent', { subject_token: subject, resource: tickets })
    expect(response.status).toBe(200)
    const { access_token } = (await response.json()) as { access_token: string }
    expect(decodeJwt(access_token).scope).toBe('tickets:read')
  })

  it('never hands mandate:admin to a client that does not hold it, even where a binding to the admin resource exists', async () => {
    // A binding to the admin resource written before `apply` refused such bindings (straight into the tables).
    const path = 'legacy-admin-bridge'
    const document = {
      apiVersion: 'mandate/v1',
      kind: 'PolicyPath',
      metadata: { name: path },
      spec: {
        bindings: [{ client: 'agent-one', resource: 'urn:mandate:admin', grantType: TE }],
        scopes: ['mandate:admin'],
        subjectTokens: { holders: ['mandate-admin'] },
      },
    }
    await sql`insert into policy_path_versions (path, version, document, content_hash)
      values (${path}, 1, ${JSON.stringify(document)}::jsonb, 'legacy')`.execute(t.db)
    await sql`insert into policy_bindings (client_id, resource, grant_type, path)
      values ('agent-one', 'urn:mandate:admin', ${TE}, ${path})`.execute(t.db)
    const adminToken = await accessToken(server.url, 'mandate-admin', {
      resource: 'urn:mandate:admin',
      scope: 'mandate:admin',
    })
    for (const scope of ['mandate:admin', undefined]) {
      await expectRefused(
        t.db,
        () => exchange(server.url, 'agent-one', { subject_token: adminToken, resource: 'urn:mandate:admin', scope }),
        { ...invalidScope, reason: 'scope.not_allowed' },
      )
    }
  })

  it('refuses a task asking beyond them', async () => {
    const subject = await personToken()
    await expectRefused(
      t.db,
      await taskRequest(server.url, {
        client: 'narrow-agent',
        secret: secrets['narrow-agent'] as string,
        params: { subject_token: subject, purpose: 'write tickets', scope: 'tickets:write' },
      }),
      invalidScope,
    )
  })
})

describe('whose token the subject is', () => {
  it("refuses another client's own token (a service's client_credentials token)", async () => {
    const service = await accessToken(server.url, 'agent-two', { scope: 'tickets:read' })
    await expectRefused(t.db, () => exchange(server.url, 'agent-one', { subject_token: service, resource: tickets }), {
      ...invalidToken,
      reason: 'subject_token.holder_not_allowed',
    })
  })

  it("refuses another agent's impersonation token, whose holder is in no chain", async () => {
    const impersonation = await exchanged(server.url, 'impersonator', {
      subject_token: await alice(),
      resource: tickets,
    })
    expect(decodeJwt(impersonation).act).toBeUndefined()
    await expectRefused(
      t.db,
      () => exchange(server.url, 'agent-one', { subject_token: impersonation, resource: tickets }),
      { ...invalidToken, reason: 'subject_token.holder_not_allowed' },
    )
  })

  it('takes a holder the path accepts, and records it in the chain (a holder never vanishes)', async () => {
    const impersonation = await exchanged(server.url, 'impersonator', {
      subject_token: await alice(),
      resource: tickets,
    })
    const response = await exchangeAs('holder-agent', { subject_token: impersonation, resource: tickets })
    expect(response.status).toBe(200)
    const { access_token } = (await response.json()) as { access_token: string }
    const chain = { sub: 'holder-agent', act: { sub: 'impersonator' } }
    expect(decodeJwt(access_token)).toMatchObject({ sub: 'alice-app', act: chain })
    expect(await introspect(server.url, access_token)).toMatchObject({ active: true, act: chain })
    const row = await t.db
      .selectFrom('issued_tokens')
      .select(['parties', 'parent_jti'])
      .where('jti', '=', jtiOf(access_token))
      .executeTakeFirstOrThrow()
    expect(row).toEqual({
      parent_jti: jtiOf(impersonation),
      parties: expect.arrayContaining(['holder-agent', 'impersonator', 'alice-app']),
    })
  })

  it("refuses a task created from another client's token", async () => {
    const service = await accessToken(server.url, 'agent-two', { scope: 'tickets:read' })
    await expectRefused(t.db, await taskRequest(server.url, { params: { subject_token: service } }), invalidToken)
  })
})

describe('chains stay honest', () => {
  it("refuses an actor token of another person's delegation (splicing), though no scope would grow", async () => {
    const bobs = await exchanged(server.url, 'agent-one', {
      subject_token: await personToken({ sub: 'bob', scope: 'tickets:read' }),
      resource: tickets,
    })
    const alices = await personToken({ scope: 'tickets:read' })
    await expectRefused(
      t.db,
      () =>
        exchange(server.url, 'agent-one', {
          subject_token: alices,
          actor_token: bobs,
          actor_token_type: ACCESS_TOKEN,
          resource: tickets,
          scope: 'tickets:read',
        }),
      { ...invalidToken, reason: 'delegation.chain_spliced' },
    )
  })

  it("refuses swapped roles: the agent's own token as subject, the person's delegated token as actor", async () => {
    const own = await accessToken(server.url, 'agent-one', { scope: 'tickets:read' })
    const alicesDelegated = await exchanged(server.url, 'agent-one', {
      subject_token: await alice('tickets:read'),
      resource: tickets,
    })
    await expectRefused(
      t.db,
      () =>
        exchange(server.url, 'agent-one', {
          subject_token: own,
          actor_token: alicesDelegated,
          actor_token_type: ACCESS_TOKEN,
          resource: tickets,
        }),
      { ...invalidToken, reason: 'delegation.roles_swapped' },
    )
  })

  it('refuses a chain back to an earlier actor (agent-one → sub-agent → agent-one), within depth and scope', async () => {
    const one = await exchanged(server.url, 'agent-one', {
      subject_token: await alice('tickets:read'),
      resource: tickets,
    })
    const two = await exchanged(server.url, 'sub-agent', { subject_token: one, resource: tickets })
    await expectRefused(
      t.db,
      () => exchange(server.url, 'agent-one', { subject_token: two, resource: tickets, scope: 'tickets:read' }),
      { ...invalidToken, reason: 'delegation.cycle' },
    )
  })
})

describe("trusted issuers' tokens", () => {
  it('refuses a token that lives longer than the configured maximum (24 h by default)', async () => {
    const longLived = await personToken({ scope: 'tickets:read', expiresIn: 25 * 3600 })
    await expectRefused(
      t.db,
      () => exchange(server.url, 'agent-one', { subject_token: longLived, resource: tickets }),
      { ...invalidToken, reason: 'subject_token.invalid' },
    )
    const dayLong = await personToken({ scope: 'tickets:read', expiresIn: 23 * 3600 })
    expect((await exchange(server.url, 'agent-one', { subject_token: dayLong, resource: tickets })).status).toBe(200)
  })

  it('refuses a token issued in the future beyond the clock tolerance', async () => {
    const future = await personToken({ scope: 'tickets:read', iat: Math.floor(Date.now() / 1000) + 120 })
    await expectRefused(t.db, () => exchange(server.url, 'agent-one', { subject_token: future, resource: tickets }), {
      ...invalidToken,
      reason: 'subject_token.invalid',
    })
  })

  it('grants nothing for a token without a scope claim, unless its Issuer document says so', async () => {
    const unscoped = await personToken({ noScope: true })
    await expectRefused(t.db, () => exchange(server.url, 'agent-one', { subject_token: unscoped, resource: tickets }), {
      ...invalidScope,
      reason: 'scope.not_allowed',
    })
    await expectRefused(t.db, await taskRequest(server.url, { params: { subject_token: unscoped } }), invalidScope)
    // Same key and subject, but from ceiling-idp, whose document grants its unscoped tokens the path's ceiling.
    const fromCeiling = await personToken({ noScope: true, iss: 'https://ceiling-idp.test' })
    const response = await exchangeAs('issuer-agent', { subject_token: fromCeiling, resource: tickets })
    expect(response.status).toBe(200)
    const { access_token } = (await response.json()) as { access_token: string }
    expect(decodeJwt(access_token).scope).toBe('tickets:read')
  })
})

describe("a trusted issuer's chain", () => {
  it("names that issuer's identities, never our clients: an actor it lists is no listed actor of ours", async () => {
    // The IdP says agent-one acted: that is the IdP's agent-one, so sub-agent's path (which lists our
    // agent-one) refuses it, and the issued chain would say whose it is.
    const person = await personToken({ scope: 'tickets:read', claims: { act: { sub: 'agent-one' } } })
    await expectRefused(t.db, () => exchange(server.url, 'sub-agent', { subject_token: person, resource: tickets }), {
      ...invalidToken,
      reason: 'delegation.actor_not_allowed',
    })
    // Where no actors are listed, it is carried with its issuer.
    const response = await exchangeAs('issuer-agent', { subject_token: person, resource: tickets })
    const { access_token } = (await response.json()) as { access_token: string }
    expect(response.status).toBe(200)
    expect(decodeJwt(access_token).act).toEqual({
      sub: 'issuer-agent',
      act: { sub: 'agent-one', iss: 'https://idp.test' },
    })
  })

  it('is refused when bound by a confirmation method we cannot prove (cnf other than jkt)', async () => {
    const bound = await personToken({
      scope: 'tickets:read',
      claims: { cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' } },
    })
    await expectRefused(t.db, () => exchange(server.url, 'agent-one', { subject_token: bound, resource: tickets }), {
      ...invalidToken,
      reason: 'subject_token.key_not_proven',
    })
  })
})

describe('client assertions issued in the future', () => {
  const future = () => ({ iat: Math.floor(Date.now() / 1000) + 120 })

  it('are refused at the token endpoint and at the tasks API', async () => {
    const assertion = async () => ({
      client_assertion_type: JWT_BEARER,
      client_assertion: await clientAssertion(server.issuer, undefined, future()),
    })
    await expectRefused(
      t.db,
      await clientCredentialsRequest(server.url, { client: null, params: await assertion() }),
      invalidClient,
    )
    await expectRefused(
      t.db,
      await taskRequest(server.url, {
        client: null,
        params: {
          client_id: 'jwt-agent',
          ...(await assertion()),
          subject_token: await personToken({ scope: 'tickets:read' }),
        },
      }),
      invalidClient,
    )
  })
})
