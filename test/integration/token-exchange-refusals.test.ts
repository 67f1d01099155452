// Every refusal of the exchange: exact status, error and body; no token and no lineage row; one
// decision record with the precise reason (which the body never reveals).
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { applyDocuments } from '../../src/manifests/apply.ts'
import { TOKEN_INVALID } from '../../src/token-exchange/denials.ts'
import { useDatabase, writtenRows } from '../support/database.ts'
import { algNone, hs256WithPublicKey, tampered, unknownKid } from '../support/forge.ts'
import { personToken } from '../support/idp.ts'
import {
  ACCESS_TOKEN,
  accessToken,
  exchange,
  exchanged,
  expectRejection,
  introspect,
  JWT,
  post,
  revoke,
  TOKEN_EXCHANGE,
} from '../support/oauth.ts'
import { TEST_APPLY, useServer } from '../support/server.ts'

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
      'a chain that returns to an earlier actor (agent-one → sub-agent → sub-sub-agent → agent-one)',
      async () => {
        const one = await exchanged(server.url, 'agent-one', { subject_token: await alice(), resource: tickets })
        const two = await exchanged(server.url, 'sub-agent', { subject_token: one, resource: tickets })
        const three = await exchanged(server.url, 'sub-sub-agent', { subject_token: two, resource: tickets })
        return later(() => exchange(server.url, 'agent-one', { subject_token: three, resource: tickets }))
      },
      invalidRequest,
      'delegation.cycle',
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
      "an intermediary's token taken by a client its path does not let hold it (the holder is not in the chain)",
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
      'subject_token.holder_not_allowed',
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
    ...(['scope', 'task_id', 'requested_token_type', 'subject_token_type', 'actor_token'] as const).map(
      (name): [string, Builder, typeof invalidRequest, string] => [
        `a repeated ${name}`,
        async () => {
          const [subject, actor] = [await alice(), await accessToken(server.url, 'agent-one')]
          const once: Record<typeof name, string> = {
            scope: 'tickets:read',
            task_id: 'no-such-task',
            requested_token_type: ACCESS_TOKEN,
            subject_token_type: ACCESS_TOKEN,
            actor_token: actor,
          }
          return later(() =>
            exchange(server.url, 'agent-one', {
              subject_token: subject,
              resource: tickets,
              ...(name === 'actor_token' ? { actor_token_type: ACCESS_TOKEN } : {}),
              [name]: [once[name], once[name]],
            }),
          )
        },
        {
          status: 400,
          error: 'invalid_request',
          error_description: `'${name}' parameter must not be provided twice`,
        },
        'request.malformed',
      ],
    ),
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

  // Unauthenticated callers write nothing durable (or anyone could fill the database): no decision, no
  // audit event, no X-Decision-Id; the failure is a metric and a sampled log line instead.
  it.each([
    ['a client that fails authentication', { clientId: 'agent-one', secret: 'wrong-secret-0000000000' }],
    ['a request with no client authentication at all', undefined],
  ] as const)('refuses %s and records nothing', async (_, auth) => {
    const subject = await alice()
    const before = await writtenRows(t.db)
    const response = await post(
      `${server.url}/token`,
      { grant_type: TOKEN_EXCHANGE, subject_token: subject, subject_token_type: ACCESS_TOKEN, resource: tickets },
      auth,
    )
    expect(response.headers.get('x-decision-id')).toBeNull()
    await expectRejection(response, {
      status: 401,
      error: 'invalid_client',
      error_description: 'client authentication failed',
    })
    expect(await writtenRows(t.db)).toEqual(before)
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

  it('refuses our subject token expired beyond the clock tolerance (the JWT check, not only lineage)', async () => {
    const subject = await alice()
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 400_000)
    await expectDenied(
      async () => later(() => exchange(server.url, 'agent-one', { subject_token: subject, resource: tickets })),
      invalidRequest,
      'subject_token.invalid',
    )
  })

  it("refuses a trusted issuer's expired token", async () => {
    await expectDenied(
      async () => {
        const person = await personToken({ scope: 'tickets:read', expiresIn: -60 })
        return later(() => exchange(server.url, 'agent-one', { subject_token: person, resource: tickets }))
      },
      invalidRequest,
      'subject_token.invalid',
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

// Paths the shared fixtures lack, applied for this file only (new clients, so no other case is affected).
const TE = TOKEN_EXCHANGE
const extraSecrets: Record<string, string> = {
  'self-only-agent': 'self-only-agent-secret-0123',
  'access-token-agent': 'access-token-agent-secret-01',
  'contradicted-agent': 'contradicted-agent-secret-01',
  'outsider-agent': 'outsider-agent-secret-01234',
  'middle-agent': 'middle-agent-secret-0123456',
  'picky-agent': 'picky-agent-secret-01234567',
  'fourth-agent': 'fourth-agent-secret-0123456',
}
const agent = (name: string) => `apiVersion: mandate/v1
kind: Client
metadata: { name: ${name} }
spec: { profile: agent, secret: ${extraSecrets[name]}, grantTypes: [${TE}], scopes: [tickets:read, tickets:write] }
`
const bound = (path: string, client: string, spec: string) => `apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: ${path} }
spec:
  bindings:
    - { client: ${client}, resource: ${tickets}, grantType: ${TE} }
${spec}`
const extraDocuments = [
  agent('self-only-agent'),
  agent('access-token-agent'),
  agent('contradicted-agent'),
  // Narrows acme's [self, test-idp]: test-idp stays a registered, trusted Issuer, but not for this path.
  bound('acme/self-only', 'self-only-agent', '  subjectTokens: { issuers: [self] }\n'),
  bound('acme/access-tokens-only', 'access-token-agent', `  subjectTokens: { types: [${ACCESS_TOKEN}] }\n`),
  // A guardrail allowing delegation only above a path allowing impersonation only: no mode is left.
  `apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: acme/delegation-only }
spec: { delegation: { mode: delegation } }
`,
  bound('acme/delegation-only/impersonation', 'contradicted-agent', '  delegation: { mode: impersonation }\n'),
  // A chain alice → outsider-agent → middle-agent → picky-agent: picky lists middle (its holder) but not outsider.
  agent('outsider-agent'),
  agent('middle-agent'),
  agent('picky-agent'),
  agent('fourth-agent'),
  bound('acme/outsider', 'outsider-agent', ''),
  bound('acme/middle', 'middle-agent', '  delegation: { actors: [middle-agent, outsider-agent] }\n'),
  bound('acme/picky', 'picky-agent', '  delegation: { actors: [picky-agent, middle-agent] }\n'),
  bound(
    'acme/fourth',
    'fourth-agent',
    '  delegation: { actors: [agent-one, sub-agent, sub-sub-agent, fourth-agent] }\n',
  ),
].join('---\n')

/** An exchange by one of this file's own clients. */
const exchangeAs = (clientId: string, params: Record<string, string | undefined>) =>
  post(
    `${server.url}/token`,
    { grant_type: TOKEN_EXCHANGE, subject_token_type: ACCESS_TOKEN, ...params },
    { clientId, secret: extraSecrets[clientId] as string },
  )

async function exchangedAs(clientId: string, params: Record<string, string | undefined>): Promise<string> {
  const response = await exchangeAs(clientId, params)
  const body = (await response.json()) as { access_token?: string }
  expect(response.status, JSON.stringify(body)).toBe(200)
  return body.access_token as string
}

describe('token exchange refusals decided by the bound path', () => {
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-refusals-'))
    writeFileSync(join(dir, 'extra.yaml'), extraDocuments)
    const applied = await applyDocuments(t.db, [dir], TEST_APPLY)
    expect(applied.findings).toEqual([])
  })

  it("refuses a trusted issuer's token where the path does not accept that issuer", async () => {
    await expectDenied(
      async () => {
        const person = await personToken({ scope: 'tickets:read' })
        return later(() => exchangeAs('self-only-agent', { subject_token: person, resource: tickets }))
      },
      invalidRequest,
      'subject_token.issuer_not_allowed',
    )
  })

  it('refuses our own token whose sub a foreign issuer vouched for, where the path accepts only self', async () => {
    await expectDenied(
      async () => {
        const person = await personToken({ scope: 'tickets:read' })
        // One hop through Mandate (agent-one's path accepts test-idp): the result is a self token for alice of test-idp.
        const hop = await exchanged(server.url, 'agent-one', { subject_token: person, resource: tickets })
        return later(() => exchangeAs('self-only-agent', { subject_token: hop, resource: tickets }))
      },
      invalidRequest,
      'subject_token.issuer_not_allowed',
    )
  })

  it('refuses a subject_token_type the path does not list', async () => {
    await expectDenied(
      async () => {
        const subject = await alice('tickets:read')
        return later(() =>
          exchangeAs('access-token-agent', { subject_token: subject, subject_token_type: JWT, resource: tickets }),
        )
      },
      invalidRequest,
      'subject_token.type_not_allowed',
    )
  })

  it('refuses when the levels of a path leave no delegation mode', async () => {
    await expectDenied(
      async () => {
        const subject = await alice('tickets:read')
        return later(() => exchangeAs('contradicted-agent', { subject_token: subject, resource: tickets }))
      },
      invalidRequest,
      'delegation.mode_not_allowed',
    )
  })

  it("refuses a subject token whose lifetime is used up (expired, but within the verifier's clock tolerance)", async () => {
    await expectDenied(
      async () => {
        // exp 5 s ago: inside the 15 s default clockTolerance, so verification passes and the
        // lifetime bound (min of every exp, never later than the parent) is what refuses it.
        const person = await personToken({ scope: 'tickets:read', expiresIn: -5 })
        return later(() => exchange(server.url, 'agent-one', { subject_token: person, resource: tickets }))
      },
      invalidRequest,
      'lifetime.exhausted',
    )
  })

  it("refuses an actor outside the path's actor list, deeper in the chain than the token's holder", async () => {
    await expectDenied(
      async () => {
        const one = await exchangedAs('outsider-agent', { subject_token: await alice(), resource: tickets })
        const two = await exchangedAs('middle-agent', { subject_token: one, resource: tickets })
        return later(() => exchangeAs('picky-agent', { subject_token: two, resource: tickets }))
      },
      invalidRequest,
      'delegation.actor_not_allowed',
    )
  })

  it("refuses another agent's token in the chain where the path lists no actors (listed, not merely allowed)", async () => {
    await expectDenied(
      async () => {
        const one = await exchangedAs('middle-agent', { subject_token: await alice(), resource: tickets })
        return later(() => exchangeAs('outsider-agent', { subject_token: one, resource: tickets }))
      },
      invalidRequest,
      'subject_token.holder_not_allowed',
    )
  })

  it('refuses a chain deeper than maxDepth', async () => {
    await expectDenied(
      async () => {
        const one = await exchanged(server.url, 'agent-one', { subject_token: await alice(), resource: tickets })
        const two = await exchanged(server.url, 'sub-agent', { subject_token: one, resource: tickets })
        const three = await exchanged(server.url, 'sub-sub-agent', { subject_token: two, resource: tickets })
        return later(() => exchangeAs('fourth-agent', { subject_token: three, resource: tickets }))
      },
      invalidRequest,
      'delegation.too_deep',
    )
  })

  it('allows the same clients what their paths do accept (the refusals above are about issuer and type)', async () => {
    const subject = await alice('tickets:read')
    const own = await exchangeAs('self-only-agent', { subject_token: subject, resource: tickets })
    expect(own.status).toBe(200)
    const declared = await exchangeAs('access-token-agent', { subject_token: subject, resource: tickets })
    expect(declared.status).toBe(200)
    const { access_token } = (await declared.json()) as { access_token: string }
    expect(decodeJwt(access_token)).toMatchObject({
      scope: 'tickets:read',
      act: { sub: 'access-token-agent' },
      policy_path: 'acme/access-tokens-only',
    })
  })
})
