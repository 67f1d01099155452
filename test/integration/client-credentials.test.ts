import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'
import { counts, useDatabase } from '../support/database.ts'
import { accessToken, clientCredentials, expectRejection, jtiOf, post } from '../support/oauth.ts'
import { expectRefused, type Refusal, titled } from '../support/refusals.ts'
import { clientCredentialsRequest } from '../support/requests.ts'
import { useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)
const tickets = 'https://tickets.test/'

describe('client_credentials with RFC 8707 resource', () => {
  it('issues an RFC 9068 JWT access token and records it before answering', async () => {
    const before = Date.now() / 1000
    const response = await clientCredentials(server.url, 'agent-one', { resource: tickets, scope: 'tickets:read' })
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toContain('no-store')
    const body = (await response.json()) as Record<string, unknown>
    expect(body).toEqual({
      access_token: expect.any(String),
      expires_in: 300,
      scope: 'tickets:read',
      token_type: 'Bearer',
    })
    const token = body.access_token as string

    expect(decodeProtectedHeader(token)).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: expect.any(String) })
    const jwks = (await (await fetch(`${server.url}/jwks`)).json()) as JSONWebKeySet
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: server.issuer,
      audience: tickets,
      typ: 'at+jwt',
    })
    expect(Object.keys(payload).sort()).toEqual(['aud', 'client_id', 'exp', 'iat', 'iss', 'jti', 'scope', 'sub'])
    expect(payload).toMatchObject({ sub: 'agent-one', client_id: 'agent-one', scope: 'tickets:read', aud: tickets })
    expect(payload.exp! - payload.iat!).toBe(300)
    expect(payload.iat!).toBeGreaterThanOrEqual(Math.floor(before))

    const row = await t.db
      .selectFrom('issued_tokens')
      .selectAll()
      .where('jti', '=', payload.jti!)
      .executeTakeFirstOrThrow()
    expect(row).toMatchObject({
      client_id: 'agent-one',
      sub: 'agent-one',
      aud: [tickets],
      scope: ['tickets:read'],
      grant_type: 'client_credentials',
      kid: decodeProtectedHeader(token).kid,
      parent_jti: null,
      revoked_at: null,
      ancestors: [],
    })
    expect(row.expires_at.getTime() / 1000).toBe(payload.exp)
  })

  it('takes the lifetime from the resource', async () => {
    const token = await accessToken(server.url, 'service-only', {
      resource: 'https://other.test/api',
      scope: 'other:read',
    })
    const row = await t.db
      .selectFrom('issued_tokens')
      .selectAll()
      .where('jti', '=', jtiOf(token))
      .executeTakeFirstOrThrow()
    expect((row.expires_at.getTime() - row.issued_at.getTime()) / 1000).toBe(600)
  })

  it('accepts client_secret_post as well as client_secret_basic', async () => {
    const response = await post(`${server.url}/token`, {
      grant_type: 'client_credentials',
      client_id: 'agent-two',
      client_secret: 'agent-two-secret-0123456789',
      resource: tickets,
    })
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ token_type: 'Bearer', expires_in: 300 })
  })

  it("issues the default scope when none is requested: the client's scopes within the resource catalogue", async () => {
    const response = await clientCredentials(server.url, 'agent-one', { resource: tickets })
    const body = (await response.json()) as { access_token: string; scope?: string }
    expect({ status: response.status, scope: body.scope }).toEqual({ status: 200, scope: 'tickets:read tickets:write' })
    expect(decodeJwt(body.access_token)).toMatchObject({ aud: tickets, scope: 'tickets:read tickets:write' })
    const row = await t.db
      .selectFrom('issued_tokens')
      .select('scope')
      .where('jti', '=', jtiOf(body.access_token))
      .executeTakeFirstOrThrow()
    expect(row.scope).toEqual(['tickets:read', 'tickets:write'])
    // The same resource twice is one resource (oidc-provider merges them): the same default.
    const twice = await clientCredentials(server.url, 'agent-one', { resource: [tickets, tickets] })
    expect(decodeJwt(((await twice.json()) as { access_token: string }).access_token).scope).toBe(
      'tickets:read tickets:write',
    )
    // agent-two holds only tickets:read of the catalogue.
    expect(decodeJwt(await accessToken(server.url, 'agent-two')).scope).toBe('tickets:read')
  })

  it('applies a policy path bound to (client, resource, client_credentials): ceilings and claims', async () => {
    const response = await clientCredentials(server.url, 'agent-one', { resource: 'https://other.test/api' })
    const body = (await response.json()) as { access_token: string; scope?: string }
    // The default scope is narrowed by the path's ceiling too: other:write is the client's and the resource's.
    expect({ status: response.status, scope: body.scope }).toEqual({ status: 200, scope: 'other:read' })
    const token = body.access_token
    const payload = decodeJwt(token)
    expect(payload).toMatchObject({
      policy_path: 'acme/services/agent-one-other',
      policy_version: 1,
      scope: 'other:read',
    })
    expect((payload.exp as number) - (payload.iat as number)).toBe(60)
    expect(
      await t.db
        .selectFrom('issued_tokens')
        .select(['policy_path', 'policy_version'])
        .where('jti', '=', jtiOf(token))
        .executeTakeFirstOrThrow(),
    ).toEqual({
      policy_path: 'acme/services/agent-one-other',
      policy_version: 1,
    })
    const before = await counts(t.db)
    await expectRejection(
      await clientCredentials(server.url, 'agent-one', { resource: 'https://other.test/api', scope: 'other:write' }),
      {
        status: 400,
        error: 'invalid_scope',
        error_description: 'the requested scope is not allowed',
      },
    )
    expect(await counts(t.db)).toEqual(before)
  })

  describe('refusals change nothing', () => {
    const unauthenticated = { status: 401, error: 'invalid_client', error_description: 'client authentication failed' }
    const invalidTarget = {
      status: 400,
      error: 'invalid_target',
      error_description: 'the resource is missing, unknown or not allowed for this client',
    }
    const invalidScope = {
      status: 400,
      error: 'invalid_scope',
      error_description: 'the requested scope is not allowed',
    }
    const refusals: Refusal[] = [
      { name: 'a wrong secret', overrides: { secret: 'not-the-secret-of-agent-one' }, expected: unauthenticated },
      {
        name: 'an unknown client',
        overrides: { client: 'nobody', secret: 'whatever-secret-12345' },
        expected: unauthenticated,
      },
      {
        name: 'a client not registered for the grant',
        overrides: { client: 'exchange-only' },
        expected: {
          status: 400,
          error: 'unauthorized_client',
          error_description: 'the client is not allowed to use this grant type',
        },
      },
      { name: 'no client authentication at all', overrides: { client: null }, expected: unauthenticated },
      {
        name: 'an unknown resource',
        overrides: { params: { resource: 'https://unknown.test/' } },
        expected: invalidTarget,
      },
      { name: 'no resource', overrides: { params: { resource: undefined } }, expected: invalidTarget },
      {
        name: 'a scope outside the client catalogue',
        overrides: { client: 'agent-two', params: { scope: 'tickets:read tickets:write' } },
        expected: invalidScope,
      },
      {
        name: 'a scope outside the resource catalogue',
        overrides: { params: { scope: 'other:read' } },
        expected: invalidScope,
      },
      {
        name: 'no scope when the client shares none with the resource (an empty default)',
        overrides: { client: 'service-only' },
        expected: invalidScope,
      },
      {
        name: 'no scope, the same resource twice, and an empty default (merged into one resource, still refused)',
        overrides: { client: 'service-only', params: { resource: [tickets, tickets] } },
        expected: invalidScope,
      },
      {
        name: 'two resources',
        overrides: { params: { resource: [tickets, 'https://other.test/api'] } },
        expected: {
          ...invalidTarget,
          error_description: 'only a single resource indicator value is supported for this grant type',
        },
      },
      {
        name: 'a repeated scope parameter',
        overrides: { params: { scope: ['tickets:read', 'tickets:read'] } },
        expected: {
          status: 400,
          error: 'invalid_request',
          error_description: "'scope' parameter must not be provided twice",
        },
      },
    ]
    it.each(titled(refusals))('refuses %s', async (_, { overrides, expected }) => {
      await expectRefused(t.db, await clientCredentialsRequest(server.url, overrides), expected)
    })

    it('answers 401 with a Basic challenge when client authentication fails', async () => {
      const response = await clientCredentials(
        server.url,
        'agent-one',
        { resource: tickets },
        'not-the-secret-of-agent-one',
      )
      expect(response.headers.get('www-authenticate')).toMatch(/^Basic/)
    })

    it('answers 401 with the same challenge when no client authentication is included', async () => {
      const failed = await clientCredentials(
        server.url,
        'agent-one',
        { resource: tickets },
        'not-the-secret-of-agent-one',
      )
      const missing = await post(`${server.url}/token`, { grant_type: 'client_credentials', resource: tickets })
      expect(missing.headers.get('www-authenticate')).toBe(failed.headers.get('www-authenticate'))
      expect(missing.headers.get('www-authenticate')).toBe(
        `Basic realm="${server.issuer}", error="invalid_client", error_description="client authentication failed"`,
      )
    })
  })
})
