// Every refusal of the exchange: exact status, error and body; no token and no lineage row; one
// decision record with the precise reason (which the body never reveals).
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { applyDocuments } from '../../src/manifests/apply.ts'
import { TOKEN_INVALID } from '../../src/oauth/descriptions.ts'
import { useDatabase } from '../support/database.ts'
import { algNone, hs256WithPublicKey, tampered, unknownKid } from '../support/forge.ts'
import { personToken } from '../support/idp.ts'
import {
  ACCESS_TOKEN,
  accessToken,
  exchange,
  exchanged,
  introspect,
  JWT,
  type Params,
  revoke,
  TOKEN_EXCHANGE,
} from '../support/oauth.ts'
import { expectRefused, type Refusal, titled } from '../support/refusals.ts'
import { exchangeRequest, type Overrides } from '../support/requests.ts'
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
const malformed = (error_description: string) => ({ status: 400, error: 'invalid_request', error_description })

const alice = (scope = 'tickets:read tickets:write') => accessToken(server.url, 'alice-app', { scope })
/** The case's subject_token, minted by its setup (agent-one's request is otherwise valid). */
const subject = (subject_token: string, params: Overrides['params'] = {}): Overrides => ({
  params: { subject_token, ...params },
})
const advanceClock = (ms: number) => {
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(Date.now() + ms)
}

describe('token exchange refusals', () => {
  const refusals: Refusal[] = [
    {
      name: 'a client not registered for token exchange',
      overrides: { client: 'no-exchange' },
      expected: {
        status: 400,
        error: 'unauthorized_client',
        error_description: 'the client is not allowed to use this grant type',
        reason: 'client.grant_not_allowed',
      },
    },
    {
      name: 'a missing subject_token',
      overrides: { params: { subject_token: undefined } },
      expected: { ...invalidRequest, reason: 'subject_token.missing' },
    },
    {
      name: 'a missing subject_token_type',
      overrides: { params: { subject_token_type: undefined } },
      expected: { ...invalidRequest, reason: 'subject_token.missing' },
    },
    {
      name: 'a malformed subject_token',
      overrides: subject('not-a-jwt'),
      expected: { ...invalidRequest, reason: 'subject_token.invalid' },
    },
    {
      name: 'an unsupported subject_token_type',
      overrides: { params: { subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' } },
      expected: { ...invalidRequest, reason: 'request.unsupported_token_type' },
    },
    {
      name: 'a plain JWT declared as an access token',
      overrides: async () => subject(await personToken({ typ: 'JWT' })),
      expected: { ...invalidRequest, reason: 'subject_token.type_mismatch' },
    },
    {
      name: 'a revoked subject token',
      overrides: async () => {
        const token = await alice()
        await revoke(server.url, token, 'alice-app')
        return subject(token)
      },
      expected: { ...invalidRequest, reason: 'subject_token.invalid' },
    },
    {
      name: 'a tampered subject token',
      overrides: async () => subject(tampered(await alice('tickets:read'), { scope: 'tickets:read tickets:write' })),
      expected: { ...invalidRequest, reason: 'subject_token.invalid' },
    },
    {
      name: 'an alg none subject token',
      overrides: async () => subject(algNone(await alice())),
      expected: { ...invalidRequest, reason: 'subject_token.invalid' },
    },
    {
      name: 'an HS256 subject token keyed with our public key',
      overrides: async () => subject(await hs256WithPublicKey(await alice(), `${server.url}/jwks`)),
      expected: { ...invalidRequest, reason: 'subject_token.invalid' },
    },
    {
      name: 'a subject token with an unknown kid',
      overrides: async () => subject(await unknownKid(await alice())),
      expected: { ...invalidRequest, reason: 'subject_token.invalid' },
    },
    {
      name: 'a subject token of an issuer that is not trusted',
      overrides: async () => subject(await personToken({ iss: 'https://evil.test', foreignKey: true })),
      expected: { ...invalidRequest, reason: 'subject_token.invalid' },
    },
    {
      name: "a trusted issuer's token signed with a key it never published",
      overrides: async () => subject(await personToken({ foreignKey: true })),
      expected: { ...invalidRequest, reason: 'subject_token.invalid' },
    },
    {
      name: "a trusted issuer's token for another audience",
      overrides: async () => subject(await personToken({ aud: 'https://someone-else.test' })),
      expected: { ...invalidRequest, reason: 'subject_token.invalid' },
    },
    {
      name: 'an actor_token without actor_token_type',
      overrides: async () => ({ params: { actor_token: await accessToken(server.url, 'agent-one') } }),
      expected: { ...invalidRequest, reason: 'request.malformed' },
    },
    {
      name: 'an actor_token_type without actor_token',
      overrides: { params: { actor_token_type: ACCESS_TOKEN } },
      expected: { ...invalidRequest, reason: 'request.malformed' },
    },
    {
      name: 'an invalid actor_token',
      overrides: { params: { actor_token: 'garbage', actor_token_type: ACCESS_TOKEN } },
      expected: { ...invalidRequest, reason: 'actor_token.invalid' },
    },
    {
      name: "another agent's actor_token presented by a client that is not its intermediary",
      overrides: async () => ({
        params: {
          actor_token: await accessToken(server.url, 'agent-two', { scope: 'tickets:read' }),
          actor_token_type: ACCESS_TOKEN,
        },
      }),
      expected: { ...invalidRequest, reason: 'actor_token.not_bound_to_client' },
    },
    {
      name: 'an unknown resource',
      overrides: { params: { resource: 'https://unknown.test/' } },
      expected: { ...invalidTarget, reason: 'target.unknown' },
    },
    {
      name: 'an unknown audience',
      overrides: { params: { resource: undefined, audience: 'nowhere' } },
      expected: { ...invalidTarget, reason: 'target.unknown' },
    },
    {
      name: 'no resource and no audience',
      overrides: { params: { resource: undefined } },
      expected: { ...invalidTarget, reason: 'target.unknown' },
    },
    {
      name: 'a resource the client has no binding for',
      overrides: { params: { resource: 'https://other.test/api' } },
      expected: { ...invalidTarget, reason: 'target.not_bound' },
    },
    {
      name: 'a triple bound for another grant type only',
      overrides: { client: 'exchange-only' },
      expected: { ...invalidTarget, reason: 'target.not_bound' },
    },
    {
      name: 'resources governed by different policy paths',
      overrides: { client: 'agent-two', params: { resource: [tickets, 'https://notes.test/'] } },
      expected: { ...invalidTarget, reason: 'target.mixed_policies' },
    },
    {
      name: 'more scope than the subject token holds (hop 1)',
      overrides: async () => subject(await alice('tickets:read'), { scope: 'tickets:write' }),
      expected: { ...invalidScope, reason: 'scope.not_allowed' },
    },
    {
      name: 'a scope the path allows but a guardrail above it does not',
      overrides: async () => subject(await personToken({ scope: 'tickets:read admin:all' }), { scope: 'admin:all' }),
      expected: { ...invalidScope, reason: 'scope.not_allowed' },
    },
    {
      name: "more scope than the sub-agent's path allows (hop 2)",
      overrides: async () => {
        const one = await exchanged(server.url, 'agent-one', { subject_token: await alice(), resource: tickets })
        return { client: 'sub-agent', ...subject(one, { scope: 'tickets:write' }) }
      },
      expected: { ...invalidScope, reason: 'scope.not_allowed' },
    },
    {
      name: 'more scope than the delegated subject holds (hop 3)',
      overrides: async () => {
        const one = await exchanged(server.url, 'agent-one', { subject_token: await alice(), resource: tickets })
        const two = await exchanged(server.url, 'sub-agent', { subject_token: one, resource: tickets })
        return { client: 'sub-sub-agent', ...subject(two, { scope: 'tickets:write' }) }
      },
      expected: { ...invalidScope, reason: 'scope.not_allowed' },
    },
    {
      name: 'a chain that returns to an earlier actor (agent-one → sub-agent → sub-sub-agent → agent-one)',
      overrides: async () => {
        const one = await exchanged(server.url, 'agent-one', { subject_token: await alice(), resource: tickets })
        const two = await exchanged(server.url, 'sub-agent', { subject_token: one, resource: tickets })
        return subject(await exchanged(server.url, 'sub-sub-agent', { subject_token: two, resource: tickets }))
      },
      expected: { ...invalidRequest, reason: 'delegation.cycle' },
    },
    {
      name: 'an actor the may_act claim does not name',
      overrides: async () => subject(await personToken({ claims: { may_act: { sub: 'someone-else' } } })),
      expected: { ...invalidRequest, reason: 'delegation.may_act_mismatch' },
    },
    {
      name: 'laundering a delegated token into impersonation',
      overrides: async () => ({
        client: 'impersonator',
        ...subject(await exchanged(server.url, 'agent-one', { subject_token: await alice(), resource: tickets })),
      }),
      expected: { ...invalidRequest, reason: 'delegation.impersonation_of_delegated_token' },
    },
    {
      name: "an intermediary's token taken by a client its path does not let hold it (the holder is not in the chain)",
      overrides: async () => {
        const viaGateway = await exchanged(server.url, 'gateway', {
          subject_token: await alice(),
          actor_token: await accessToken(server.url, 'agent-two', { scope: 'tickets:read' }),
          actor_token_type: ACCESS_TOKEN,
          resource: tickets,
        })
        return { client: 'sub-agent', ...subject(viaGateway) }
      },
      expected: { ...invalidRequest, reason: 'subject_token.holder_not_allowed' },
    },
    {
      name: 'a descendant of a revoked token',
      overrides: async () => {
        const token = await alice()
        const one = await exchanged(server.url, 'agent-one', { subject_token: token, resource: tickets })
        const two = await exchanged(server.url, 'sub-agent', { subject_token: one, resource: tickets })
        expect((await revoke(server.url, token, 'alice-app')).status).toBe(200)
        expect(await introspect(server.url, two)).toEqual({ active: false })
        return { client: 'sub-sub-agent', ...subject(two) }
      },
      expected: { ...invalidRequest, reason: 'subject_token.invalid' },
    },
    {
      name: 'a repeated singular parameter',
      overrides: async () => {
        const token = await alice()
        return { params: { subject_token: [token, token] } }
      },
      expected: { ...malformed("'subject_token' parameter must not be provided twice"), reason: 'request.malformed' },
    },
    ...(['scope', 'task_id', 'requested_token_type', 'subject_token_type', 'actor_token'] as const).map(
      (name): Refusal => ({
        name: `a repeated ${name}`,
        overrides: async () => {
          const actor = await accessToken(server.url, 'agent-one')
          const once: Record<typeof name, string> = {
            scope: 'tickets:read',
            task_id: 'no-such-task',
            requested_token_type: ACCESS_TOKEN,
            subject_token_type: ACCESS_TOKEN,
            actor_token: actor,
          }
          return {
            params: {
              ...(name === 'actor_token' ? { actor_token_type: ACCESS_TOKEN } : {}),
              [name]: [once[name], once[name]],
            },
          }
        },
        expected: { ...malformed(`'${name}' parameter must not be provided twice`), reason: 'request.malformed' },
      }),
    ),
    {
      name: 'a task_id that names no live task',
      overrides: { params: { task_id: 'no-such-task' } },
      expected: { ...invalidRequest, reason: 'task.invalid' },
    },
    {
      name: 'no task_id where the path requires one',
      overrides: { client: 'agent-two' },
      expected: { ...malformed('task_id is required for this resource'), reason: 'request.task_required' },
    },
    {
      name: 'an unsupported requested_token_type',
      overrides: { params: { requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' } },
      expected: { ...malformed('requested_token_type is not supported'), reason: 'request.unsupported_requested_type' },
    },
    {
      name: 'an expired subject token',
      overrides: async () => {
        const token = await alice()
        advanceClock(301_000)
        return subject(token)
      },
      expected: { ...invalidRequest, reason: 'subject_token.invalid' },
    },
    {
      name: 'our subject token expired beyond the clock tolerance (the JWT check, not only lineage)',
      overrides: async () => {
        const token = await alice()
        advanceClock(400_000)
        return subject(token)
      },
      expected: { ...invalidRequest, reason: 'subject_token.invalid' },
    },
    {
      name: "a trusted issuer's expired token",
      overrides: async () => subject(await personToken({ scope: 'tickets:read', expiresIn: -60 })),
      expected: { ...invalidRequest, reason: 'subject_token.invalid' },
    },
  ]

  it.each(titled(refusals))('refuses %s', async (_, { overrides, expected }) => {
    await expectRefused(t.db, await exchangeRequest(server.url, overrides), expected)
  })

  // Unauthenticated callers write nothing durable (or anyone could fill the database): no decision, no
  // audit event, no X-Decision-Id; the failure is a metric and a sampled log line instead.
  const unauthenticated = { status: 401, error: 'invalid_client', error_description: 'client authentication failed' }
  it.each(
    titled([
      {
        name: 'a client that fails authentication',
        overrides: { secret: 'wrong-secret-0000000000' },
        expected: unauthenticated,
      },
      {
        name: 'a request with no client authentication at all',
        overrides: { client: null },
        expected: unauthenticated,
      },
    ]),
  )('refuses %s and records nothing', async (_, { overrides, expected }) => {
    await expectRefused(t.db, await exchangeRequest(server.url, overrides), expected)
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

/** One of this file's own clients, with its secret. */
const as = (client: string): Overrides => ({ client, secret: extraSecrets[client] as string })

const exchangeAs = async (client: string, params: Params) =>
  (await exchangeRequest(server.url, { ...as(client), params }))()

async function exchangedAs(client: string, params: Params): Promise<string> {
  const response = await exchangeAs(client, params)
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

  const refusals: Refusal[] = [
    {
      name: "a trusted issuer's token where the path does not accept that issuer",
      overrides: async () => ({ ...as('self-only-agent'), ...subject(await personToken({ scope: 'tickets:read' })) }),
      expected: { ...invalidRequest, reason: 'subject_token.issuer_not_allowed' },
    },
    {
      name: 'our own token whose sub a foreign issuer vouched for, where the path accepts only self',
      overrides: async () => {
        const person = await personToken({ scope: 'tickets:read' })
        // One hop through Mandate (agent-one's path accepts test-idp): the result is a self token for alice of test-idp.
        const hop = await exchanged(server.url, 'agent-one', { subject_token: person, resource: tickets })
        return { ...as('self-only-agent'), ...subject(hop) }
      },
      expected: { ...invalidRequest, reason: 'subject_token.issuer_not_allowed' },
    },
    {
      name: 'a subject_token_type the path does not list',
      overrides: async () => ({
        ...as('access-token-agent'),
        ...subject(await alice('tickets:read'), { subject_token_type: JWT }),
      }),
      expected: { ...invalidRequest, reason: 'subject_token.type_not_allowed' },
    },
    {
      name: 'when the levels of a path leave no delegation mode',
      overrides: async () => ({ ...as('contradicted-agent'), ...subject(await alice('tickets:read')) }),
      expected: { ...invalidRequest, reason: 'delegation.mode_not_allowed' },
    },
    {
      name: "a subject token whose lifetime is used up (expired, but within the verifier's clock tolerance)",
      // exp 5 s ago: inside the 15 s default clockTolerance, so verification passes and the
      // lifetime bound (min of every exp, never later than the parent) is what refuses it.
      overrides: async () => subject(await personToken({ scope: 'tickets:read', expiresIn: -5 })),
      expected: { ...invalidRequest, reason: 'lifetime.exhausted' },
    },
    {
      name: "an actor outside the path's actor list, deeper in the chain than the token's holder",
      overrides: async () => {
        const one = await exchangedAs('outsider-agent', { subject_token: await alice(), resource: tickets })
        const two = await exchangedAs('middle-agent', { subject_token: one, resource: tickets })
        return { ...as('picky-agent'), ...subject(two) }
      },
      expected: { ...invalidRequest, reason: 'delegation.actor_not_allowed' },
    },
    {
      name: "another agent's token in the chain where the path lists no actors (listed, not merely allowed)",
      overrides: async () => {
        const one = await exchangedAs('middle-agent', { subject_token: await alice(), resource: tickets })
        return { ...as('outsider-agent'), ...subject(one) }
      },
      expected: { ...invalidRequest, reason: 'subject_token.holder_not_allowed' },
    },
    {
      name: 'a chain deeper than maxDepth',
      overrides: async () => {
        const one = await exchanged(server.url, 'agent-one', { subject_token: await alice(), resource: tickets })
        const two = await exchanged(server.url, 'sub-agent', { subject_token: one, resource: tickets })
        const three = await exchanged(server.url, 'sub-sub-agent', { subject_token: two, resource: tickets })
        return { ...as('fourth-agent'), ...subject(three) }
      },
      expected: { ...invalidRequest, reason: 'delegation.too_deep' },
    },
  ]

  it.each(titled(refusals))('refuses %s', async (_, { overrides, expected }) => {
    await expectRefused(t.db, await exchangeRequest(server.url, overrides), expected)
  })

  it('allows the same clients what their paths do accept (the refusals above are about issuer and type)', async () => {
    const subject = await alice('tickets:read')
    const own = await exchangeAs('self-only-agent', { subject_token: subject })
    expect(own.status).toBe(200)
    const declared = await exchangeAs('access-token-agent', { subject_token: subject })
    expect(declared.status).toBe(200)
    const { access_token } = (await declared.json()) as { access_token: string }
    expect(decodeJwt(access_token)).toMatchObject({
      scope: 'tickets:read',
      act: { sub: 'access-token-agent' },
      policy_path: 'acme/access-tokens-only',
    })
  })
})
