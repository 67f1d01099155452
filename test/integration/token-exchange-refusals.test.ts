// Every refusal of the exchange: exact status, error and body; no token and no lineage row; one
// decision record with the precise reason (which the body never reveals).
import { afterEach, describe, expect, it, vi } from 'vitest'
import { TOKEN_INVALID } from '../../src/token-exchange/denials.ts'
import { useDatabase } from '../support/database.ts'
import { algNone, hs256WithPublicKey, tampered, unknownKid } from '../support/forge.ts'
import { personToken } from '../support/idp.ts'
import {
  ACCESS_TOKEN,
  accessToken,
  exchange,
  exchanged,
  expectRejection,
  introspect,
  post,
  revoke,
  TOKEN_EXCHANGE,
} from '../support/oauth.ts'
import { useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)
const tickets = 'https://tickets.test/'

afterEach(() => {
  vi.useRealTimers()
})

const invalidRequest = { status: 400, error: 'invalid_request', error_description: TOKEN_INVALID }
const invalidTarget = {
  status: 400,
  error: 'invalid_target',
  error_description: 'the resource is missing, unknown or not allowed for this client',
}
const invalidScope = { status: 400, error: 'invalid_scope', error_description: 'the requested scope is not allowed' }

const alice = (scope = 'tickets:read tickets:write') => accessToken(server.url, 'alice-app', { scope })
const issuedCount = async () =>
  Number(
    (
      await t.db
        .selectFrom('issued_tokens')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  )
const decisionCount = async () =>
  Number(
    (
      await t.db
        .selectFrom('decisions')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  )

/** Runs the case's setup, then sends its request and checks every refusal invariant. */
async function expectDenied(
  send: Builder,
  expected: { status: number; error: string; error_description: string },
  reason: string,
): Promise<void> {
  // Setup (minting the tokens the case needs) runs first, so counting starts at the request itself.
  const request = await send()
  const [issuedBefore, decisionsBefore] = [await issuedCount(), await decisionCount()]
  const response = await request()
  const decisionId = response.headers.get('x-decision-id')
  await expectRejection(response, expected)
  expect(await issuedCount()).toBe(issuedBefore)
  expect(await decisionCount()).toBe(decisionsBefore + 1)
  const record = await t.db
    .selectFrom('decisions')
    .selectAll()
    .where('decision_id', '=', decisionId as string)
    .executeTakeFirstOrThrow()
  expect({
    result: record.result,
    reason: record.reason,
    issued_jti: record.issued_jti,
    granted_scope: record.granted_scope,
  }).toEqual({
    result: 'deny',
    reason,
    issued_jti: null,
    granted_scope: null,
  })
}

/** A case: its setup, returning the request to send once the counts are taken. */
type Builder = () => Promise<() => Promise<Response>>
const later = (request: () => Promise<Response>) => request

describe('token exchange refusals', () => {
  const cases: Array<[string, Builder, typeof invalidRequest, string]> = [
    [
      'a client that fails authentication',
      async () => {
        const subject = await alice()
        return later(() =>
          post(
            `${server.url}/token`,
            { grant_type: TOKEN_EXCHANGE, subject_token: subject, subject_token_type: ACCESS_TOKEN, resource: tickets },
            { clientId: 'agent-one', secret: 'wrong-secret-0000000000' },
          ),
        )
      },
      { status: 401, error: 'invalid_client', error_description: 'client authentication failed' },
      'client.authentication_failed',
    ],
    [
      'a client not registered for token exchange',
      async () => {
        const subject = await alice()
        return later(() => exchange(server.url, 'no-exchange', { subject_token: subject, resource: tickets }))
      },
      {
        status: 400,
        error: 'unauthorized_client',
        error_description: 'the client is not allowed to use this grant type',
      },
      'client.grant_not_allowed',
    ],
    [
      'a missing subject_token',
      async () => later(() => exchange(server.url, 'agent-one', { resource: tickets })),
      invalidRequest,
      'subject_token.missing',
    ],
    [
      'a missing subject_token_type',
      async () => {
        const subject = await alice()
        return later(() =>
          exchange(server.url, 'agent-one', {
            subject_token: subject,
            subject_token_type: undefined,
            resource: tickets,
          }),
        )
      },
      invalidRequest,
      'subject_token.missing',
    ],
    [
      'a malformed subject_token',
      async () => later(() => exchange(server.url, 'agent-one', { subject_token: 'not-a-jwt', resource: tickets })),
      invalidRequest,
      'subject_token.invalid',
    ],
    [
      'an unsupported subject_token_type',
      async () => {
        const subject = await alice()
        return later(() =>
          exchange(server.url, 'agent-one', {
            subject_token: subject,
            subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
            resource: tickets,
          }),
        )
      },
      invalidRequest,
      'request.unsupported_token_type',
    ],
    [
      'a plain JWT declared as an access token',
      async () => {
        const person = await personToken({ typ: 'JWT' })
        return later(() => exchange(server.url, 'agent-one', { subject_token: person, resource: tickets }))
      },
      invalidRequest,
      'subject_token.type_mismatch',
    ],
    [
      'a revoked subject token',
      async () => {
        const subject = await alice()
        await revoke(server.url, subject, 'alice-app')
        return later(() => exchange(server.url, 'agent-one', { subject_token: subject, resource: tickets }))
      },
      invalidRequest,
      'subject_token.invalid',
    ],
    [
      'a tampered subject token',
      async () => {
        const subject = tampered(await alice('tickets:read'), { scope: 'tickets:read tickets:write' })
        return later(() => exchange(server.url, 'agent-one', { subject_token: subject, resource: tickets }))
      },
      invalidRequest,
      'subject_token.invalid',
    ],
    [
      'an alg none subject token',
      async () => {
        const subject = algNone(await alice())
        return later(() => exchange(server.url, 'agent-one', { subject_token: subject, resource: tickets }))
      },
      invalidRequest,
      'subject_token.invalid',
    ],
    [
      'an HS256 subject token keyed with our public key',
      async () => {
        const subject = await hs256WithPublicKey(await alice(), `${server.url}/jwks`)
        return later(() => exchange(server.url, 'agent-one', { subject_token: subject, resource: tickets }))
      },
      invalidRequest,
      'subject_token.invalid',
    ],
    [
      'a subject token with an unknown kid',
      async () => {
        const subject = await unknownKid(await alice())
        return later(() => exchange(server.url, 'agent-one', { subject_token: subject, resource: tickets }))
      },
      invalidRequest,
      'subject_token.invalid',
    ],
    [
      'a subject token of an issuer that is not trusted',
      async () => {
        const person = await personToken({ iss: 'https://evil.test', foreignKey: true })
        return later(() => exchange(server.url, 'agent-one', { subject_token: person, resource: tickets }))
      },
      invalidRequest,
      'subject_token.invalid',
    ],
    [
      "a trusted issuer's token signed with a key it never published",
      async () => {
        const person = await personToken({ foreignKey: true })
        return later(() => exchange(server.url, 'agent-one', { subject_token: person, resource: tickets }))
      },
      invalidRequest,
      'subject_token.invalid',
    ],
    [
      "a trusted issuer's token for another audience",
      async () => {
        const person = await personToken({ aud: 'https://someone-else.test' })
        return later(() => exchange(server.url, 'agent-one', { subject_token: person, resource: tickets }))
      },
      invalidRequest,
      'subject_token.invalid',
    ],
    [
      'an actor_token without actor_token_type',
      async () => {
        const [subject, actor] = [await alice(), await accessToken(server.url, 'agent-one')]
        return later(() =>
          exchange(server.url, 'agent-one', { subject_token: subject, actor_token: actor, resource: tickets }),
        )
      },
      invalidRequest,
      'request.malformed',
    ],
    [
      'an actor_token_type without actor_token',
      async () => {
        const subject = await alice()
        return later(() =>
          exchange(server.url, 'agent-one', {
            subject_token: subject,
            actor_token_type: ACCESS_TOKEN,
            resource: tickets,
          }),
        )
      },
      invalidRequest,
      'request.malformed',
    ],
    [
      'an invalid actor_token',
      async () => {
        const subject = await alice()
        return later(() =>
          exchange(server.url, 'agent-one', {
            subject_token: subject,
            actor_token: 'garbage',
            actor_token_type: ACCESS_TOKEN,
            resource: tickets,
          }),
        )
      },
      invalidRequest,
      'actor_token.invalid',
    ],
    [
      "another agent's actor_token presented by a client that is not its intermediary",
      async () => {
        const [subject, actor] = [await alice(), await accessToken(server.url, 'agent-two', { scope: 'tickets:read' })]
        return later(() =>
          exchange(server.url, 'agent-one', {
            subject_token: subject,
            actor_token: actor,
            actor_token_type: ACCESS_TOKEN,
            resource: tickets,
          }),
        )
      },
      invalidRequest,
      'actor_token.not_bound_to_client',
    ],
    [
      'an unknown resource',
      async () => {
        const subject = await alice()
        return later(() =>
          exchange(server.url, 'agent-one', { subject_token: subject, resource: 'https://unknown.test/' }),
        )
      },
      invalidTarget,
      'target.unknown',
    ],
    [
      'an unknown audience',
      async () => {
        const subject = await alice()
        return later(() => exchange(server.url, 'agent-one', { subject_token: subject, audience: 'nowhere' }))
      },
      invalidTarget,
      'target.unknown',
    ],
    [
      'no resource and no audience',
      async () => {
        const subject = await alice()
        return later(() => exchange(server.url, 'agent-one', { subject_token: subject }))
      },
      invalidTarget,
      'target.unknown',
    ],
    [
      'a resource the client has no binding for',
      async () => {
        const subject = await alice()
        return later(() =>
          exchange(server.url, 'agent-one', { subject_token: subject, resource: 'https://other.test/api' }),
        )
      },
      invalidTarget,
      'target.not_bound',
    ],
    [
      'a triple bound for another grant type only',
      async () => {
        const subject = await alice()
        return later(() => exchange(server.url, 'exchange-only', { subject_token: subject, resource: tickets }))
      },
      invalidTarget,
      'target.not_bound',
    ],
    [
      'resources governed by different policy paths',
      async () => {
        const subject = await alice()
        return later(() =>
          exchange(server.url, 'agent-two', { subject_token: subject, resource: [tickets, 'https://notes.test/'] }),
        )
      },
      invalidTarget,
      'target.mixed_policies',
    ],
    [
      'more scope than the subject token holds (hop 1)',
      async () => {
        const subject = await alice('tickets:read')
        return later(() =>
          exchange(server.url, 'agent-one', { subject_token: subject, resource: tickets, scope: 'tickets:write' }),
        )
      },
      invalidScope,
      'scope.not_allowed',
    ],
    [
      'a scope the path allows but a guardrail above it does not',
      async () => {
        const subject = await personToken({ scope: 'tickets:read admin:all' })
        return later(() =>
          exchange(server.url, 'agent-one', { subject_token: subject, resource: tickets, scope: 'admin:all' }),
        )
      },
      invalidScope,
      'scope.not_allowed',
    ],
    [
      "more scope than the sub-agent's path allows (hop 2)",
      async () => {
        const one = await exchanged(server.url, 'agent-one', { subject_token: await alice(), resource: tickets })
        return later(() =>
          exchange(server.url, 'sub-agent', { subject_token: one, resource: tickets, scope: 'tickets:write' }),
        )
      },
      invalidScope,
      'scope.not_allowed',
    ],
    [
      'more scope than the delegated subject holds (hop 3)',
      async () => {
        const one = await exchanged(server.url, 'agent-one', { subject_token: await alice(), resource: tickets })
        const two = await exchanged(server.url, 'sub-agent', { subject_token: one, resource: tickets })
        return later(() =>
          exchange(server.url, 'sub-sub-agent', { subject_token: two, resource: tickets, scope: 'tickets:write' }),
        )
      },
      invalidScope,
      'scope.not_allowed',
    ],
    [
      'a chain deeper than maxDepth',
      async () => {
        const one = await exchanged(server.url, 'agent-one', { subject_token: await alice(), resource: tickets })
        const two = await exchanged(server.url, 'sub-agent', { subject_token: one, resource: tickets })
        const three = await exchanged(server.url, 'sub-sub-agent', { subject_token: two, resource: tickets })
        return later(() => exchange(server.url, 'agent-one', { subject_token: three, resource: tickets }))
      },
      invalidRequest,
      'delegation.too_deep',
    ],
    [
      'an actor the may_act claim does not name',
      async () => {
        const person = await personToken({ claims: { may_act: { sub: 'someone-else' } } })
        return later(() => exchange(server.url, 'agent-one', { subject_token: person, resource: tickets }))
      },
      invalidRequest,
      'delegation.may_act_mismatch',
    ],
    [
      'laundering a delegated token into impersonation',
      async () => {
        const one = await exchanged(server.url, 'agent-one', { subject_token: await alice(), resource: tickets })
        return later(() => exchange(server.url, 'impersonator', { subject_token: one, resource: tickets }))
      },
      invalidRequest,
      'delegation.impersonation_of_delegated_token',
    ],
    [
      "an actor outside the path's actor list",
      async () => {
        const viaGateway = await exchanged(server.url, 'gateway', {
          subject_token: await alice(),
          actor_token: await accessToken(server.url, 'agent-two', { scope: 'tickets:read' }),
          actor_token_type: ACCESS_TOKEN,
          resource: tickets,
        })
        return later(() => exchange(server.url, 'sub-agent', { subject_token: viaGateway, resource: tickets }))
      },
      invalidRequest,
      'delegation.actor_not_allowed',
    ],
    [
      'a descendant of a revoked token',
      async () => {
        const subject = await alice()
        const one = await exchanged(server.url, 'agent-one', { subject_token: subject, resource: tickets })
        const two = await exchanged(server.url, 'sub-agent', { subject_token: one, resource: tickets })
        expect((await revoke(server.url, subject, 'alice-app')).status).toBe(200)
        expect(await introspect(server.url, two)).toEqual({ active: false })
        return later(() => exchange(server.url, 'sub-sub-agent', { subject_token: two, resource: tickets }))
      },
      invalidRequest,
      'subject_token.invalid',
    ],
    [
      'a repeated singular parameter',
      async () => {
        const subject = await alice()
        return later(() => exchange(server.url, 'agent-one', { subject_token: [subject, subject], resource: tickets }))
      },
      {
        status: 400,
        error: 'invalid_request',
        error_description: "'subject_token' parameter must not be provided twice",
      },
      'request.malformed',
    ],
    [
      'a task_id that names no live task',
      async () => {
        const subject = await alice()
        return later(() =>
          exchange(server.url, 'agent-one', { subject_token: subject, resource: tickets, task_id: 'no-such-task' }),
        )
      },
      invalidRequest,
      'task.invalid',
    ],
    [
      'no task_id where the path requires one',
      async () => {
        const subject = await alice()
        return later(() => exchange(server.url, 'agent-two', { subject_token: subject, resource: tickets }))
      },
      { status: 400, error: 'invalid_request', error_description: 'task_id is required for this resource' },
      'request.task_required',
    ],
    [
      'an unsupported requested_token_type',
      async () => {
        const subject = await alice()
        return later(() =>
          exchange(server.url, 'agent-one', {
            subject_token: subject,
            resource: tickets,
            requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token',
          }),
        )
      },
      { status: 400, error: 'invalid_request', error_description: 'requested_token_type is not supported' },
      'request.unsupported_requested_type',
    ],
  ]

  it.each(cases)('refuses %s', async (_, send, expected, reason) => {
    await expectDenied(send, expected, reason)
  })

  it('refuses an expired subject token', async () => {
    const subject = await alice()
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 301_000)
    await expectDenied(
      async () => later(() => exchange(server.url, 'agent-one', { subject_token: subject, resource: tickets })),
      invalidRequest,
      'subject_token.invalid',
    )
  })

  it('refuses a DPoP-bound request (custom grants get no DPoP support)', async () => {
    const subject = await alice()
    await expectDenied(
      async () =>
        later(() =>
          fetch(`${server.url}/token`, {
            method: 'POST',
            headers: {
              'content-type': 'application/x-www-form-urlencoded',
              authorization: `Basic ${Buffer.from('agent-one:agent-one-secret-0123456789').toString('base64')}`,
              dpop: 'eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.x',
            },
            body: new URLSearchParams({
              grant_type: TOKEN_EXCHANGE,
              subject_token: subject,
              subject_token_type: ACCESS_TOKEN,
              resource: tickets,
            }),
          }),
        ),
      { status: 400, error: 'invalid_request', error_description: 'DPoP is not supported for token exchange' },
      'request.dpop_unsupported',
    )
  })

  it('allows the actor a may_act claim names', async () => {
    const person = await personToken({ claims: { may_act: { sub: 'agent-one' } } })
    expect((await exchange(server.url, 'agent-one', { subject_token: person, resource: tickets })).status).toBe(200)
  })

  it('gives unknown, expired, revoked and foreign tokens one identical answer', async () => {
    const bodies = new Set<string>()
    const revoked = await alice()
    await revoke(server.url, revoked, 'alice-app')
    const expiring = await alice()
    for (const subject of ['unknown', revoked, await personToken({ iss: 'https://evil.test', foreignKey: true })]) {
      const response = await exchange(server.url, 'agent-one', { subject_token: subject, resource: tickets })
      bodies.add(`${response.status} ${await response.text()}`)
    }
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 301_000)
    const expired = await exchange(server.url, 'agent-one', { subject_token: expiring, resource: tickets })
    bodies.add(`${expired.status} ${await expired.text()}`)
    expect([...bodies]).toEqual([
      `400 ${JSON.stringify({ error: 'invalid_request', error_description: TOKEN_INVALID })}`,
    ])
  })
})
