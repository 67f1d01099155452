// mandate/agent against the real app over HTTP: a task started, exchanged for, handed down to a sub-agent
// and completed; refusals as MandateError with the server's whole body and nothing written; private_key_jwt;
// DPoP-bound exchanges (nonces required or not); an outage as a retryable 503. Packaging: sdk-package.test.ts.
import type { webcrypto } from 'node:crypto'
import { sql } from 'kysely'
import { calculateJwkThumbprint, decodeJwt, exportJWK } from 'jose'
import { MandateError, mandateAgent } from 'mandate/agent'
import { describe, expect, it } from 'vitest'
import { RESOURCE_INVALID, SCOPE_INVALID, TOKEN_INVALID } from '../../src/oauth/descriptions.ts'
import { JWT_AGENT_KEY } from '../support/client-assertion.ts'
import { counts, useDatabase, writtenRows } from '../support/database.ts'
import { connect } from '../support/global-setup.ts'
import { personToken } from '../support/idp.ts'
import { ACCESS_TOKEN, introspect, secrets } from '../support/oauth.ts'
import { useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)
// A second process on the same database whose DPoP proofs must carry its nonce (RFC 9449 §8).
const strict = useServer(t, { env: { MANDATE_DPOP__REQUIRE_NONCE: 'true' } })
const tickets = 'https://tickets.test/'

const agent = (clientId: string, options: { issuer?: string; dpop?: webcrypto.CryptoKeyPair } = {}) =>
  mandateAgent({
    issuer: options.issuer ?? server.issuer,
    clientId,
    clientSecret: secrets[clientId] as string,
    ...(options.dpop ? { dpop: options.dpop } : {}),
  })
const dpopKeys = () =>
  crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ]) as Promise<webcrypto.CryptoKeyPair>
const thumbprint = async (keys: webcrypto.CryptoKeyPair) => calculateJwkThumbprint(await exportJWK(keys.publicKey))
const rows = async () => ({ ...(await counts(t.db)), ...(await writtenRows(t.db)) })

/** The MandateError a call rejects with (fails the test if it resolves or throws anything else). */
async function refusalOf(call: Promise<unknown>): Promise<MandateError> {
  const error = await call.then(
    () => undefined,
    (error: unknown) => error,
  )
  expect(error).toBeInstanceOf(MandateError)
  return error as MandateError
}

describe('a task from start to completion', () => {
  it('starts, exchanges, hands down to a sub-agent, completes: every token of the task is inactive', async () => {
    const supportAgent = await agent('agent-one')
    const triage = await agent('sub-agent')
    const before = Date.now()
    const task = await supportAgent.startTask({
      subjectToken: await personToken(),
      purpose: 'Answer ticket 42',
      resources: [tickets],
      scope: ['tickets:read', 'tickets:write'],
      // The declared intent, passed through as a JSON array (a server that does not know it ignores it).
      actions: ['tickets.read', 'tickets.reply'],
      expiresIn: 300,
    })
    expect(task).toMatchObject({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      delegator: 'alice',
      agent: 'agent-one',
      purpose: 'Answer ticket 42',
      resources: [tickets],
      scope: 'tickets:read tickets:write',
      parentTaskId: null,
    })
    expect(task.expiresAt.getTime() - before).toBeGreaterThan(290_000)
    expect(task.expiresAt.getTime() - before).toBeLessThanOrEqual(301_000)

    const token = await task.exchange({ resource: tickets, scope: 'tickets:write' })
    expect(token).toEqual({
      accessToken: expect.any(String),
      expiresAt: expect.any(Date),
      scope: 'tickets:write',
      tokenType: 'Bearer',
      issuedTokenType: ACCESS_TOKEN,
    })
    // The path's tokenLifetime (2m) bounds it.
    expect(token.expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(120_000)
    expect(decodeJwt(token.accessToken)).toMatchObject({ sub: 'alice', act: { sub: 'agent-one' }, task_id: task.id })

    // The hand-off is plain data: it can cross a process boundary as JSON.
    const handOff = JSON.parse(JSON.stringify(await task.handOff({ resource: tickets, scope: 'tickets:read' })))
    expect(handOff).toEqual({ taskId: task.id, subjectToken: expect.any(String) })
    const subToken = await triage.joinTask(handOff).exchange({ resource: tickets, scope: 'tickets:read' })
    expect(await introspect(server.url, subToken.accessToken)).toMatchObject({
      active: true,
      sub: 'alice',
      client_id: 'sub-agent',
      act: { sub: 'sub-agent', act: { sub: 'agent-one' } },
      task_id: task.id,
      scope: 'tickets:read',
      policy_path: 'acme/support/sub-agent',
    })

    expect(await task.complete('succeeded')).toEqual({
      id: task.id,
      status: 'completed',
      outcome: 'succeeded',
      revokedTokens: 3,
    })
    for (const issued of [token.accessToken, handOff.subjectToken, subToken.accessToken])
      expect(await introspect(server.url, issued)).toEqual({ active: false })
    // Nothing extends the chain now, and completing again changes nothing.
    const late = await refusalOf(triage.joinTask(handOff).exchange({ resource: tickets }))
    expect([late.status, late.body]).toEqual([400, { error: 'invalid_request', error_description: TOKEN_INVALID }])
    expect(await task.complete('failed')).toMatchObject({ outcome: 'succeeded', revokedTokens: 0 })
  })

  it('starts a sub-agent its own subtask, which ends with its parent', async () => {
    const supportAgent = await agent('agent-one')
    const triage = await agent('sub-agent')
    const task = await supportAgent.startTask({ subjectToken: await personToken(), purpose: 'p', resources: [tickets] })
    const handOff = await task.handOff({ resource: tickets })
    const subtask = await triage.startTask({
      subjectToken: handOff.subjectToken,
      purpose: 'triage ticket 42',
      resources: [tickets],
      scope: 'tickets:read',
      parentTaskId: task.id,
    })
    expect(subtask).toMatchObject({ agent: 'sub-agent', delegator: 'alice', parentTaskId: task.id })
    const token = await subtask.exchange({ resource: tickets })
    expect(decodeJwt(token.accessToken)).toMatchObject({ task_id: subtask.id, scope: 'tickets:read' })
    expect((await task.complete('cancelled')).revokedTokens).toBe(2)
    expect(await introspect(server.url, token.accessToken)).toEqual({ active: false })
  })
})

describe('refusals are MandateErrors with the server’s whole body, and write nothing', () => {
  it('at the exchange: a scope beyond the sub-agent’s path (one decision record, no token)', async () => {
    const task = await (await agent('agent-one')).startTask({
      subjectToken: await personToken(),
      purpose: 'p',
      resources: [tickets],
    })
    const sub = (await agent('sub-agent')).joinTask(await task.handOff({ resource: tickets }))
    const before = await rows()
    const error = await refusalOf(sub.exchange({ resource: tickets, scope: 'tickets:write' }))
    expect({ ...error, message: error.message }).toEqual({
      name: 'MandateError',
      message: `Mandate answered 400 invalid_scope: ${SCOPE_INVALID}`,
      status: 400,
      error: 'invalid_scope',
      description: SCOPE_INVALID,
      body: { error: 'invalid_scope', error_description: SCOPE_INVALID },
      retryable: false,
      retryAfter: undefined,
      decisionId: expect.any(String),
    })
    expect(await rows()).toEqual({
      ...before,
      decisions: Number(before.decisions) + 1,
      audit_events: Number(before.audit_events) + 1,
    })
    const record = await t.db
      .selectFrom('decisions')
      .select(['result', 'reason', 'issued_jti'])
      .where('decision_id', '=', error.decisionId as string)
      .executeTakeFirstOrThrow()
    expect(record).toEqual({ result: 'deny', reason: 'scope.not_allowed', issued_jti: null })
  })

  it('at the tasks API: a resource not bound for the agent, a wrong secret, a task of another agent', async () => {
    const before = await rows()
    const unbound = await refusalOf(
      (await agent('agent-one')).startTask({
        subjectToken: await personToken(),
        purpose: 'p',
        resources: ['https://other.test/api'],
      }),
    )
    expect([unbound.status, unbound.body]).toEqual([
      400,
      { error: 'invalid_target', error_description: RESOURCE_INVALID },
    ])
    const impostor = await mandateAgent({ issuer: server.issuer, clientId: 'agent-one', clientSecret: 'not-it' })
    const unauthenticated = await refusalOf(
      impostor.startTask({ subjectToken: await personToken(), purpose: 'p', resources: [tickets] }),
    )
    expect([unauthenticated.status, unauthenticated.body]).toEqual([
      401,
      { error: 'invalid_client', error_description: 'client authentication failed' },
    ])
    // The token endpoint answers a failed authentication the same way (oidc-provider's 401).
    const exchangeRefused = await refusalOf(
      impostor.joinTask({ taskId: 'x', subjectToken: 'y' }).exchange({ resource: tickets }),
    )
    expect([exchangeRefused.status, exchangeRefused.error]).toEqual([401, 'invalid_client'])
    expect(await rows()).toEqual(before)

    const task = await (await agent('agent-one')).startTask({
      subjectToken: await personToken(),
      purpose: 'p',
      resources: [tickets],
    })
    const notOurs = await refusalOf(
      (await agent('agent-two')).joinTask({ taskId: task.id, subjectToken: 'x' }).complete(),
    )
    expect([notOurs.status, notOurs.body]).toEqual([404, { error: 'not_found', error_description: 'task not found' }])
    const shown = await t.db
      .selectFrom('tasks')
      .select('completed_at')
      .where('task_id', '=', task.id)
      .executeTakeFirst()
    expect(shown).toEqual({ completed_at: null })
  })
})

describe('private_key_jwt (RFC 7523)', () => {
  it('authenticates jwt-agent at the tasks API and the token endpoint with a fresh assertion each time', async () => {
    const privateKey = await crypto.subtle.importKey(
      'jwk',
      JWT_AGENT_KEY,
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['sign'],
    )
    const jwtAgent = await mandateAgent({
      issuer: server.issuer,
      clientId: 'jwt-agent',
      privateKey,
      keyId: 'jwt-client-1',
    })
    const task = await jwtAgent.startTask({
      subjectToken: await personToken({ scope: 'tickets:read' }),
      purpose: 'p',
      resources: [tickets],
    })
    const first = await task.exchange({ resource: tickets })
    const second = await task.exchange({ resource: tickets })
    expect(decodeJwt(second.accessToken)).toMatchObject({ client_id: 'jwt-agent', act: { sub: 'jwt-agent' } })
    expect(await task.complete()).toMatchObject({ outcome: 'succeeded', revokedTokens: 2 })
    expect(await introspect(server.url, first.accessToken)).toEqual({ active: false })
  })
})

describe('DPoP (RFC 9449)', () => {
  it.each([
    ['nonces optional', () => server.issuer],
    ['nonces required', () => strict.issuer],
  ])('binds the agent’s tokens to its key, hands down unbound, proves the key at /tasks (%s)', async (_, issuer) => {
    const keys = await dpopKeys()
    const supportAgent = await agent('agent-one', { issuer: issuer(), dpop: keys })
    const task = await supportAgent.startTask({ subjectToken: await personToken(), purpose: 'p', resources: [tickets] })
    const token = await task.exchange({ resource: tickets, scope: 'tickets:read' })
    expect(token.tokenType).toBe('DPoP')
    expect(decodeJwt(token.accessToken).cnf).toEqual({ jkt: await thumbprint(keys) })
    expect(await introspect(issuer(), token.accessToken)).toMatchObject({ active: true, token_type: 'DPoP' })

    // A subtask from its own bound token: Mandate takes that subject only with a proof of the key.
    const subtask = await supportAgent.startTask({
      subjectToken: token.accessToken,
      purpose: 'a part of it',
      resources: [tickets],
      parentTaskId: task.id,
    })
    expect(subtask.parentTaskId).toBe(task.id)

    // The hand-off is not bound; the sub-agent binds its own token to its own key.
    const handOff = await task.handOff({ resource: tickets, scope: 'tickets:read' })
    expect(decodeJwt(handOff.subjectToken).cnf).toBeUndefined()
    const subKeys = await dpopKeys()
    const triage = await agent('sub-agent', { issuer: issuer(), dpop: subKeys })
    const subToken = await triage.joinTask(handOff).exchange({ resource: tickets })
    expect(decodeJwt(subToken.accessToken)).toMatchObject({
      cnf: { jkt: await thumbprint(subKeys) },
      act: { sub: 'sub-agent', act: { sub: 'agent-one' } },
    })
    expect((await task.complete()).revokedTokens).toBe(3)
  })

  it('cannot hand a bound token to a sub-agent: its key is not the sub-agent’s', async () => {
    const task = await (await agent('agent-one', { dpop: await dpopKeys() })).startTask({
      subjectToken: await personToken(),
      purpose: 'p',
      resources: [tickets],
    })
    const bound = await task.exchange({ resource: tickets })
    const triage = await agent('sub-agent', { dpop: await dpopKeys() })
    const error = await refusalOf(
      triage.joinTask({ taskId: task.id, subjectToken: bound.accessToken }).exchange({ resource: tickets }),
    )
    expect([error.status, error.body]).toEqual([400, { error: 'invalid_request', error_description: TOKEN_INVALID }])
  })
})

// Last: it cuts this file's database off.
describe.runIf(t.isPostgres)('an outage', () => {
  it('is a retryable MandateError (503, Retry-After) at the exchange and the tasks API', async () => {
    const supportAgent = await agent('agent-one')
    const task = await supportAgent.startTask({ subjectToken: await personToken(), purpose: 'p', resources: [tickets] })
    const name = new URL(t.url as string).pathname.slice(1)
    const admin = connect(new URL('/postgres', t.url as string).href)
    try {
      await sql`alter database ${sql.id(name)} with allow_connections false`.execute(admin)
      await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name}`.execute(admin)
      const unavailable = {
        status: 503,
        error: 'temporarily_unavailable',
        retryable: true,
        retryAfter: 5,
      }
      expect(await refusalOf(task.exchange({ resource: tickets }))).toMatchObject(unavailable)
      expect(
        await refusalOf(
          supportAgent.startTask({ subjectToken: await personToken(), purpose: 'p', resources: [tickets] }),
        ),
      ).toMatchObject(unavailable)
    } finally {
      await sql`alter database ${sql.id(name)} with allow_connections true`.execute(admin)
      await admin.destroy()
    }
  })
})
