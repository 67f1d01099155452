import { afterEach, describe, expect, it, vi } from 'vitest'
import { counts, useDatabase } from '../support/database.ts'
import { algNone, hs256WithPublicKey, tampered, unknownKid } from '../support/forge.ts'
import { accessToken, expectRejection, introspect, jtiOf, post, revoke } from '../support/oauth.ts'
import { useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)
/** oidc-provider's challenge with every invalid_client answer (RFC 6749 §5.2). */
const basicChallenge = () =>
  `Basic realm="${server.issuer}", error="invalid_client", error_description="client authentication failed"`

afterEach(() => {
  vi.useRealTimers()
})

describe('RFC 7662 introspection of our JWT access tokens', () => {
  it('answers active with the token claims to one of the resource introspectors', async () => {
    const token = await accessToken(server.url, 'agent-one', { scope: 'tickets:read tickets:write' })
    const body = await introspect(server.url, token, 'rs-tickets')
    expect(body).toEqual({
      active: true,
      sub: 'agent-one',
      client_id: 'agent-one',
      iss: server.issuer,
      jti: jtiOf(token),
      aud: 'https://tickets.test/',
      scope: 'tickets:read tickets:write',
      token_type: 'Bearer',
      iat: expect.any(Number),
      exp: expect.any(Number),
    })
  })

  it('answers an admin client for any resource', async () => {
    const token = await accessToken(server.url, 'agent-one')
    expect(await introspect(server.url, token, 'mandate-admin')).toMatchObject({ active: true, jti: jtiOf(token) })
  })

  it.each([
    ['the introspector of another resource', 'rs-other'],
    ['the client the token was issued to', 'agent-one'],
    ['a client with no relation to the resource', 'service-only'],
  ])('answers exactly {"active":false} to %s', async (_, caller) => {
    const token = await accessToken(server.url, 'agent-one')
    expect(await introspect(server.url, token, caller)).toEqual({ active: false })
  })

  it('answers {"active":false} once the token has expired', async () => {
    const token = await accessToken(server.url, 'agent-one')
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 301_000)
    expect(await introspect(server.url, token)).toEqual({ active: false })
  })

  it('answers {"active":false} for a revoked token', async () => {
    const token = await accessToken(server.url, 'agent-one')
    expect((await revoke(server.url, token, 'agent-one')).status).toBe(200)
    expect(await introspect(server.url, token)).toEqual({ active: false })
  })

  it('never accepts a bare jti in place of the token it names', async () => {
    const token = await accessToken(server.url, 'agent-one')
    expect(await introspect(server.url, jtiOf(token))).toEqual({ active: false })
    expect((await revoke(server.url, jtiOf(token), 'agent-one')).status).toBe(200)
    expect(await introspect(server.url, token)).toMatchObject({ active: true })
  })

  it('answers {"active":false} for an unknown or opaque value', async () => {
    expect(await introspect(server.url, 'not-a-token-at-all')).toEqual({ active: false })
  })

  it.each([
    ['a tampered payload', (token: string) => tampered(token, { scope: 'tickets:write' })],
    ['alg none', algNone],
    ['HS256 signed with our public key', (token: string) => hs256WithPublicKey(token, `${server.url}/jwks`)],
    ['an unknown kid', unknownKid],
    ['another issuer', (token: string) => tampered(token, { iss: 'https://evil.test' })],
  ])('answers {"active":false} for a forged token naming a real jti (%s)', async (_, forge) => {
    const token = await accessToken(server.url, 'agent-one')
    expect(await introspect(server.url, await forge(token))).toEqual({ active: false })
    expect(await introspect(server.url, token)).toMatchObject({ active: true }) // the real one is untouched
  })

  it('refuses an unauthenticated caller with 401 invalid_client and reveals nothing', async () => {
    const token = await accessToken(server.url, 'agent-one')
    const response = await post(`${server.url}/token/introspection`, { token })
    expect(response.headers.get('www-authenticate')).toBe(basicChallenge())
    await expectRejection(response, {
      status: 401,
      error: 'invalid_client',
      error_description: 'client authentication failed',
    })
    const wrong = await post(
      `${server.url}/token/introspection`,
      { token },
      { clientId: 'rs-tickets', secret: 'wrong-secret-000000' },
    )
    await expectRejection(wrong, {
      status: 401,
      error: 'invalid_client',
      error_description: 'client authentication failed',
    })
  })
})

describe('RFC 7009 revocation of our JWT access tokens', () => {
  it('lets the owning client revoke, effective at the very next introspection', async () => {
    const token = await accessToken(server.url, 'agent-two')
    const response = await revoke(server.url, token, 'agent-two')
    expect(response.status).toBe(200)
    expect(await response.text()).toBe('')
    expect(await introspect(server.url, token)).toEqual({ active: false })
    const row = await t.db
      .selectFrom('issued_tokens')
      .select('revoked_at')
      .where('jti', '=', jtiOf(token))
      .executeTakeFirstOrThrow()
    expect(row.revoked_at).toBeInstanceOf(Date)
  })

  it('refuses another client and leaves the token active', async () => {
    const token = await accessToken(server.url, 'agent-one')
    const before = await counts(t.db)
    const response = await revoke(server.url, token, 'agent-two')
    await expectRejection(response, {
      status: 400,
      error: 'invalid_request',
      error_description: 'client is not authorized to revoke the presented token',
    })
    expect(await introspect(server.url, token)).toMatchObject({ active: true })
    expect(await counts(t.db)).toEqual(before)
    const row = await t.db
      .selectFrom('issued_tokens')
      .select('revoked_at')
      .where('jti', '=', jtiOf(token))
      .executeTakeFirstOrThrow()
    expect(row.revoked_at).toBeNull()
  })

  it('answers 200 for an unknown or forged token, revoking nothing (RFC 7009 §2.2)', async () => {
    const token = await accessToken(server.url, 'agent-one')
    expect((await revoke(server.url, 'unknown-token-value', 'agent-one')).status).toBe(200)
    expect((await revoke(server.url, tampered(token, { sub: 'x' }), 'agent-one')).status).toBe(200)
    expect(await introspect(server.url, token)).toMatchObject({ active: true })
  })

  it('refuses an unauthenticated caller with 401 invalid_client and leaves the token active', async () => {
    const token = await accessToken(server.url, 'agent-one')
    const before = await counts(t.db)
    const response = await post(`${server.url}/token/revocation`, { token })
    expect(response.headers.get('www-authenticate')).toBe(basicChallenge())
    await expectRejection(response, {
      status: 401,
      error: 'invalid_client',
      error_description: 'client authentication failed',
    })
    expect(await counts(t.db)).toEqual(before)
    expect(await introspect(server.url, token)).toMatchObject({ active: true })
  })

  it('is idempotent', async () => {
    const token = await accessToken(server.url, 'agent-one')
    expect((await revoke(server.url, token, 'agent-one')).status).toBe(200)
    expect((await revoke(server.url, token, 'agent-one')).status).toBe(200)
    expect(await introspect(server.url, token)).toEqual({ active: false })
  })
})
