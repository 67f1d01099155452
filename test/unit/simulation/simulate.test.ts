// The simulation core as values (issue 13): a catalog of documents (offline-catalog.ts), candidates in place
// (candidates.ts), requests parsed by their one schema, decided by simulate() — no I/O.
import { describe, expect, it } from 'vitest'
import { buildCatalog } from '../../../src/catalog/catalog.ts'
import { ClientDocument } from '../../../src/clients/schema.ts'
import { IssuerDocument } from '../../../src/issuers/schema.ts'
import { PolicyPathDocument } from '../../../src/policy/schema.ts'
import { ResourceDocument } from '../../../src/resources/schema.ts'
import { withCandidates } from '../../../src/simulation/candidates.ts'
import { offlineCatalogRows } from '../../../src/simulation/offline-catalog.ts'
import { caseFailures, PolicyTestFile } from '../../../src/simulation/policy-tests.ts'
import { SimulationRequest, type SimulationRequestInput } from '../../../src/simulation/request.ts'
import { SimulationInputError, simulate } from '../../../src/simulation/simulate.ts'

const NOW = 1_800_000_000
const TE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const API = 'https://api.example/'
const meta = (name: string) => ({ apiVersion: 'mandate/v1', metadata: { name } })
const client = (name: string, spec: Record<string, unknown>) =>
  ClientDocument.parse({ ...meta(name), kind: 'Client', spec: { profile: 'agent', ...spec } })
const path = (name: string, spec: Record<string, unknown>) =>
  PolicyPathDocument.parse({ ...meta(name), kind: 'PolicyPath', spec })

const documents = [
  client('agent', {
    secret: 'agent-secret-0123456789',
    grantTypes: [TE, 'client_credentials'],
    scopes: ['a:r', 'a:w'],
  }),
  client('helper', { secret: 'helper-secret-0123456789', grantTypes: [TE], scopes: ['a:r'] }),
  client('hub', { secret: 'hub-secret-0123456789012', grantTypes: [TE], scopes: ['a:r', 'a:w'] }),
  client('public', { grantTypes: ['authorization_code'], redirectUris: ['https://app.example/cb'], scopes: ['a:r'] }),
  ResourceDocument.parse({
    ...meta('api'),
    kind: 'Resource',
    spec: { uri: API, scopes: ['a:r', 'a:w'], accessTokenLifetime: '10m' },
  }),
  IssuerDocument.parse({
    ...meta('idp'),
    kind: 'Issuer',
    spec: {
      issuer: 'https://idp.example',
      jwksUri: 'https://idp.example/jwks',
      algorithms: ['ES256'],
      tokensWithoutScope: 'policyCeiling',
    },
  }),
  path('org', { subjectTokens: { issuers: ['self', 'idp'] }, delegation: { maxDepth: 2 }, tokenLifetime: '5m' }),
  path('org/agent', {
    bindings: [{ client: 'agent', resource: API, grantType: TE }],
    scopes: ['a:r', 'a:w'],
    delegation: { actors: ['agent', 'helper'] },
    actions: [{ name: 'a.read', class: 'read', cache: '30s' }],
  }),
  path('org/helper', {
    bindings: [{ client: 'helper', resource: API, grantType: TE }],
    delegation: { actors: ['agent', 'helper'] },
  }),
  path('org/hub', {
    bindings: [{ client: 'hub', resource: API, grantType: TE }],
    delegation: { intermediaries: [{ client: 'hub', actors: ['helper'] }], actors: ['helper'] },
  }),
  path('org/cc', { bindings: [{ client: 'agent', resource: API, grantType: 'client_credentials' }], scopes: ['a:r'] }),
]
const catalog = buildCatalog(offlineCatalogRows(documents, NOW))
const context = { catalog, issuer: 'https://mandate.example', now: NOW }
const decide = (request: SimulationRequestInput, over: Partial<typeof context> = {}) =>
  simulate(SimulationRequest.parse(request), { ...context, ...over })
const person = { iss: 'https://idp.example', sub: 'alice', scope: 'a:r a:w', exp: NOW + 3600 }

describe('simulate', () => {
  it('allows a delegation with the narrowed scope, the act claim, the lifetime and what set them', async () => {
    expect(await decide({ client_id: 'agent', resource: API, subject: person, scope: 'a:r' })).toEqual({
      decision: 'allow',
      reason: 'allowed',
      scope: ['a:r'],
      expires_at: NOW + 300,
      lifetime: 300,
      act: { sub: 'agent' },
      policy: { path: 'org/agent', version: 1, versions: { org: 1, 'org/agent': 1 } },
      constrained_by: [{ by: 'policy:org', lifetime: true }],
    })
  })

  it('refuses what the grant refuses, with its reason', async () => {
    const cases: Array<[SimulationRequestInput, string]> = [
      [{ client_id: 'nobody', resource: API, subject: person }, 'client.authentication_failed'],
      [{ client_id: 'public', resource: API, subject: person }, 'client.grant_not_allowed'],
      [{ client_id: 'agent', resource: 'https://elsewhere.example/', subject: person }, 'target.unknown'],
      [
        { client_id: 'agent', resource: API, subject: { ...person, iss: 'https://evil.example' } },
        'subject_token.invalid',
      ],
      [{ client_id: 'agent', resource: API, subject: { ...person, exp: NOW } }, 'subject_token.invalid'],
      [{ client_id: 'agent', resource: API, subject: person, scope: 'a:x' }, 'scope.not_allowed'],
      [
        {
          client_id: 'helper',
          resource: API,
          subject: { sub: 'alice', client_id: 'agent' },
          actor_chain: ['helper', 'agent', 'helper'],
        },
        'delegation.cycle',
      ],
      [{ client_id: 'hub', resource: API, subject: person, actor_chain: ['agent'] }, 'actor_token.not_bound_to_client'],
    ]
    for (const [request, reason] of cases)
      expect(await decide(request), JSON.stringify(request)).toMatchObject({ decision: 'deny', reason })
  })

  it('knows a trusted issuer by its iss or its name, and its chain in its namespace', async () => {
    const named = await decide({
      client_id: 'agent',
      resource: API,
      subject: { ...person, iss: 'idp', act: { sub: 'someone' } },
    })
    // someone is an actor of idp's, so none of org/agent's listed actors (our clients).
    expect(named).toMatchObject({
      decision: 'deny',
      reason: 'delegation.actor_not_allowed',
      detail: 'an actor of another issuer',
    })
    expect(await decide({ client_id: 'agent', resource: API, subject: { ...person, iss: 'idp' } })).toMatchObject({
      decision: 'allow',
      act: { sub: 'agent' },
    })
    // No scope claim: this Issuer grants its policy ceiling.
    expect(
      await decide({ client_id: 'agent', resource: API, subject: { iss: 'https://idp.example', sub: 'alice' } }),
    ).toMatchObject({
      decision: 'allow',
      scope: ['a:r', 'a:w'],
    })
  })

  it('reads a subject chain from actor_chain, an intermediary from its first entry', async () => {
    const handed = await decide({
      client_id: 'helper',
      resource: 'api',
      subject: { sub: 'alice', scope: 'a:r a:w', client_id: 'agent' },
      actor_chain: ['helper', 'agent'],
    })
    expect(handed).toMatchObject({ decision: 'allow', act: { sub: 'helper', act: { sub: 'agent' } }, scope: ['a:r'] })
    expect(handed.constrained_by).toContainEqual({ by: 'client', scope: ['a:w'] })
    const presented = await decide({ client_id: 'hub', resource: API, subject: person, actor_chain: ['helper'] })
    expect(presented).toMatchObject({ decision: 'allow', act: { sub: 'helper' }, scope: ['a:r'] })
    expect(presented.constrained_by).toContainEqual({ by: 'actor', scope: ['a:w'] })
  })

  it('decides a described task, and refuses a task id it cannot read', async () => {
    const task = await decide({
      client_id: 'agent',
      resource: API,
      subject: person,
      task: { expires_in: 60, scope: ['a:r'] },
    })
    expect(task).toMatchObject({ decision: 'allow', scope: ['a:r'], lifetime: 60 })
    expect(task.constrained_by).toEqual([
      { by: 'task', scope: ['a:w'] },
      { by: 'task', lifetime: true },
    ])
    expect(
      await decide({ client_id: 'agent', resource: API, subject: person, task: { delegator: 'bob' } }),
    ).toMatchObject({
      decision: 'deny',
      reason: 'task.invalid',
    })
    await expect(decide({ client_id: 'agent', resource: API, subject: person, task: 'some-id' })).rejects.toThrow(
      SimulationInputError,
    )
  })

  it('decides client_credentials under its binding, and an action on the token it would issue', async () => {
    expect(await decide({ client_id: 'agent', resource: API, grant_type: 'client_credentials' })).toMatchObject({
      decision: 'allow',
      scope: ['a:r'],
      // The resource allows 10 minutes; org, above the bound path, 5.
      lifetime: 300,
      constrained_by: [{ by: 'policy:org', lifetime: true }],
      policy: { path: 'org/cc' },
    })
    expect(
      await decide({ client_id: 'agent', resource: API, grant_type: 'client_credentials', scope: 'a:w' }),
    ).toMatchObject({
      decision: 'deny',
      reason: 'scope.not_allowed',
      constrained_by: [{ by: 'policy:org/cc', scope: ['a:w'] }],
    })
    expect(await decide({ client_id: 'agent', resource: API, subject: person, action: 'a.read' })).toMatchObject({
      evaluation: { action: 'a.read', decision: 'allow', requirement: { class: 'read', cache: 30 } },
    })
    expect(await decide({ client_id: 'agent', resource: API, subject: person, action: 'a.delete' })).toMatchObject({
      evaluation: { decision: 'deny', reason: 'action_not_allowed' },
    })
  })

  it('decides with candidates in place: a path replaced (its bindings too) or added, at the version it would get', async () => {
    const narrowed = withCandidates(catalog, [
      path('org/agent', { bindings: [{ client: 'agent', resource: API, grantType: TE }], scopes: ['a:r'] }),
    ])
    expect(
      await decide({ client_id: 'agent', resource: API, subject: person, scope: 'a:w' }, { catalog: narrowed }),
    ).toMatchObject({
      decision: 'deny',
      reason: 'scope.not_allowed',
      policy: { path: 'org/agent', version: 2 },
    })
    const same = withCandidates(catalog, [documents[7] as PolicyPathDocument])
    expect(await decide({ client_id: 'agent', resource: API, subject: person }, { catalog: same })).toMatchObject({
      policy: { path: 'org/agent', version: 1 },
    })
    const unbound = withCandidates(catalog, [path('org/agent', {})])
    expect(await decide({ client_id: 'agent', resource: API, subject: person }, { catalog: unbound })).toMatchObject({
      decision: 'deny',
      reason: 'target.not_bound',
    })
    const moved = withCandidates(catalog, [
      path('org/new', { bindings: [{ client: 'agent', resource: API, grantType: TE }] }),
    ])
    expect(await decide({ client_id: 'agent', resource: API, subject: person }, { catalog: moved })).toMatchObject({
      decision: 'allow',
      policy: { path: 'org/new', version: 1 },
    })
    expect(await decide({ client_id: 'agent', resource: API, subject: person })).toMatchObject({
      policy: { path: 'org/agent', version: 1 },
    })
  })
})

describe('SimulationRequest', () => {
  it('reads an empty scope as none, a short grant type, and refuses a chain that contradicts act', () => {
    const parsed = SimulationRequest.parse({
      client_id: 'a',
      resource: API,
      grant_type: 'token-exchange',
      subject: { sub: 's' },
      scope: '',
    })
    expect(parsed).toMatchObject({ grant_type: TE, resource: [API] })
    expect(parsed.scope).toBeUndefined()
    const contradiction = SimulationRequest.safeParse({
      client_id: 'a',
      resource: API,
      subject: { sub: 's', act: { sub: 'b' } },
      actor_chain: ['a', 'c'],
    })
    expect(contradiction.success).toBe(false)
    expect(
      SimulationRequest.safeParse({ client_id: 'a', resource: [API, API], grant_type: 'client_credentials' }).success,
    ).toBe(false)
  })
})

describe('policy test cases', () => {
  it('compares only what a case names', async () => {
    const file = PolicyTestFile.parse({
      cases: [
        {
          name: 'n',
          request: { client_id: 'agent', resource: API, subject: person },
          expect: { decision: 'allow', scope: 'a:w a:r' },
        },
      ],
    })
    const testCase = file.cases[0] as (typeof file.cases)[0]
    const got = await simulate(testCase.request, context)
    expect(caseFailures(testCase.expect, got)).toEqual([])
    expect(caseFailures({ decision: 'deny', reason: 'scope.not_allowed', act: null }, got)).toEqual([
      'decision: expected deny, got allow (allowed)',
      'reason: expected "scope.not_allowed", got "allowed"',
      'act: expected null, got {"sub":"agent"}',
    ])
  })
})
