// A decision's recorded facts (decisions.facts) hold all it was decided on besides the policy: kept as JSON,
// read back and decided again with the same policy, any exchange or evaluation comes out exactly as it did.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { buildCatalog, type Catalog } from '../../../src/catalog/catalog.ts'
import { recordExchange, redecideExchange } from '../../../src/decisions/exchange-facts.ts'
import { RecordedEvaluation, RecordedExchange } from '../../../src/decisions/facts.ts'
import { decideExchange, type ExchangeFacts } from '../../../src/delegation/decide.ts'
import { actorsOfTask } from '../../../src/delegation/task-facts.ts'
import { decideEvaluation, type EvaluationFacts } from '../../../src/evaluation/decide.ts'
import { evaluationPolicy, recordEvaluation, redecideEvaluation } from '../../../src/evaluation/recorded-facts.ts'
import { PolicyPathSpec } from '../../../src/policy/schema.ts'

const TE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'
const API = 'https://api.test'
const PATH = 'acme/p'
const scopes = ['a', 'b', 'c']
const clients = ['agent', 'helper', 'gateway']

/** A catalog binding (agent|helper|gateway, API, token exchange) to acme/p under acme, with these specs. */
const catalogOf = (root: unknown, leaf: unknown): Catalog =>
  buildCatalog({
    generation: '1',
    clients: [],
    resources: [],
    issuers: [],
    bindings: clients.map((client_id) => ({ client_id, resource: API, grant_type: TE, path: PATH })),
    levels: [
      { path: 'acme', version: 1, spec: PolicyPathSpec.parse(root) },
      { path: PATH, version: 2, spec: PolicyPathSpec.parse(leaf) },
    ],
  })

const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined })
/** Absent nine times in ten: facts that refuse early are rare enough for most cases to reach the later rules. */
const rarely = <T>(arb: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 9 }, { arbitrary: arb, weight: 1 })
/** Every scope, four times in five: each input narrows, and most requests still get something. */
const wide = fc.oneof({ arbitrary: fc.constant(scopes), weight: 4 }, { arbitrary: fc.subarray(scopes), weight: 1 })
const mostly = <T>(usual: T, other: T) =>
  fc.oneof({ arbitrary: fc.constant(usual), weight: 9 }, { arbitrary: fc.constant(other), weight: 1 })
const act = fc
  .letrec<{ act: { sub: string; act?: unknown } }>((tie) => ({
    act: fc.record({ sub: fc.constantFrom(...clients, 'sub-agent'), act: tie('act') }, { requiredKeys: ['sub'] }),
  }))
  .act.map((value) => JSON.parse(JSON.stringify(value)))
const lineage = fc.record({
  jti: fc.uuid(),
  ancestors: fc.array(fc.uuid(), { maxLength: 3 }),
  depends_on: fc.array(fc.uuid(), { maxLength: 2 }),
  task_path: fc.array(fc.constantFrom('t1', 't0'), { maxLength: 2 }),
  client_id: fc.constantFrom(...clients),
  parties: fc.array(fc.constantFrom(...clients), { maxLength: 2 }),
})

const spec = fc.record(
  {
    scopes: wide,
    tokenLifetime: fc.constantFrom('1m', '10m'),
    subjectTokens: fc.record({ issuers: fc.constantFrom(['self'], ['self', 'idp']), holders: fc.subarray(clients) }),
    delegation: fc.record(
      {
        mode: fc.constantFrom('delegation', 'impersonation', 'either'),
        actors: fc.subarray([...clients, 'sub-agent'], { minLength: 2 }),
        maxDepth: fc.integer({ min: 1, max: 3 }),
        intermediaries: fc.constant([{ client: 'gateway', actors: ['helper'] }]),
      },
      { requiredKeys: [] },
    ),
    task: rarely(fc.record({ required: fc.boolean() })),
    requireDpop: rarely(fc.boolean()),
  },
  { requiredKeys: [] },
)

const exchangeFacts = fc.record({
  now: fc.integer({ min: 1_000, max: 1_100 }),
  client: fc.constantFrom(...clients),
  confidential: mostly(true, false),
  actorIssuer: optional(fc.constant('https://mandate.test')),
  subject: fc.record({
    issuer: mostly('self', 'idp'),
    origin: rarely(fc.constantFrom('self', 'idp')),
    tokenType: fc.constant(ACCESS_TOKEN),
    sub: mostly('alice', 'helper'),
    scope: optional(wide),
    act: rarely(act),
    mayAct: fc.option(
      fc.record(
        { sub: fc.constantFrom(...clients), iss: fc.constantFrom('https://mandate.test', 'https://other.test') },
        { requiredKeys: ['sub'] },
      ),
      { nil: undefined, freq: 2 },
    ),
    expiresAt: fc.integer({ min: 900, max: 2_000 }),
    holder: rarely(fc.constantFrom('alice', ...clients)),
    jkt: rarely(fc.constantFrom('k1', 'k2')),
    lineage: optional(lineage),
  }),
  actor: fc.option(
    fc.record({
      // Mostly the client's own identity token (holder and sub the client): the actor tokens that pass the chain rules.
      own: mostly(true, false),
      holder: fc.constantFrom(...clients),
      sub: fc.constantFrom('alice', ...clients),
      origin: mostly('self', 'idp'),
      act: rarely(act),
      expiresAt: optional(fc.integer({ min: 900, max: 2_000 })),
      jkt: rarely(fc.constantFrom('k1', 'k2')),
      lineage: optional(lineage),
    }),
    { nil: undefined, freq: 2 },
  ),
  requestedScope: optional(fc.subarray(scopes, { minLength: 1 })),
  resourceScopes: wide,
  accessTokenLifetime: fc.integer({ min: 30, max: 600 }),
  task: fc.option(
    fc.record({
      live: mostly(true, false),
      // A task id as requested: a uuid may be asked for in capitals; the stored row's id is lower case.
      id: fc.constantFrom('t1', 'T1'),
      agent: mostly<string | undefined>(undefined, 'helper'),
      delegator: mostly('alice', 'bob'),
      scope: wide,
      expiresAt: fc.integer({ min: 900, max: 2_000 }),
      known: mostly(true, false),
    }),
    { nil: undefined, freq: 2 },
  ),
  clientScopes: wide,
  actorScopes: optional(wide),
  dpopJkt: rarely(fc.constantFrom('k1', 'k2')),
  clientRequiresDpop: rarely(fc.boolean()),
})

/** Drops the properties fast-check left undefined (the decision's facts never carry an undefined member). */
const defined = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T

type Generated = typeof exchangeFacts extends fc.Arbitrary<infer G> ? G : never

function factsOf(generated: Generated, catalog: Catalog): Omit<ExchangeFacts, 'policy'> {
  const { resourceScopes, accessTokenLifetime, task, actor: generatedActor, ...given } = defined(generated)
  const { own, ...actor } = generatedActor ?? { own: false }
  const rest = {
    ...given,
    ...(generatedActor
      ? {
          actor: own
            ? { ...actor, holder: given.client, sub: given.client }
            : (actor as Required<typeof generatedActor>),
        }
      : {}),
  }
  const acting = rest.actor && rest.actor.holder !== rest.client ? rest.actor.holder : rest.client
  const row = task?.known
    ? {
        task_id: 't1',
        client_id: task.agent ?? acting,
        delegator: task.delegator,
        delegator_issuer: 'self',
        resources: [API],
        scope: task.scope,
        expiresAt: task.expiresAt,
        task_path: ['t0', 't1'],
      }
    : undefined
  const facts = {
    ...rest,
    resource: { uris: [API], scopes: resourceScopes, accessTokenLifetime },
    ...(task
      ? {
          task: {
            id: task.id,
            live: task.live,
            listedActors: row && task.live && row.client_id !== acting ? actorsOfTask(catalog, [PATH]) : [],
            ...(row ? { task: row } : {}),
          },
        }
      : {}),
  }
  return facts as Omit<ExchangeFacts, 'policy'>
}

describe('recorded exchange facts', () => {
  it('decide again, with the same policy, exactly as the exchange was decided', () => {
    fc.assert(
      fc.property(spec, spec, exchangeFacts, (root, leaf, generated) => {
        const catalog = catalogOf(root, leaf)
        const facts = factsOf(generated, catalog)
        const policy = catalog.pathPolicy(PATH)
        if (!policy) throw new Error('the catalog has acme/p')
        const decided = decideExchange({ ...facts, policy })
        const kept = RecordedExchange.parse(
          JSON.parse(JSON.stringify(recordExchange({ ...facts, policy }, TE, [PATH]))),
        )
        expect(redecideExchange(kept, catalog)).toEqual(decided)
      }),
      { numRuns: 1000 },
    )
  })

  it('keep no policy, and refuse a client the catalog binds to nothing as the exchange does', () => {
    const catalog = catalogOf({}, {})
    const policy = catalog.pathPolicy(PATH)
    if (!policy) throw new Error('the catalog has acme/p')
    const facts: ExchangeFacts = {
      now: 1_000,
      policy,
      client: 'stranger',
      confidential: true,
      subject: { issuer: 'self', tokenType: ACCESS_TOKEN, sub: 'alice', scope: ['a'], expiresAt: 2_000 },
      resource: { uris: [API], scopes, accessTokenLifetime: 600 },
      clientScopes: scopes,
    }
    const kept = recordExchange(facts, TE, [])
    expect(JSON.stringify(kept)).not.toContain('acme/p')
    expect(redecideExchange(kept, catalog)).toEqual({ allow: false, reason: 'target.not_bound', detail: API })
  })
})

const actions = fc.subarray(
  [
    { name: 'tickets.read', class: 'read' },
    { name: 'tickets.close', class: 'write', scopes: ['b'] },
    { name: 'tickets.assign', class: 'write', actors: ['helper'] },
    { name: 'tickets.delete', class: 'destructive', task: 'required', approval: 'delegator' },
    { name: 'tickets.*', class: 'write', maxDepth: 1, rate: { max: 2, per: '1m' } },
  ],
  { minLength: 1 },
)

const evaluationFacts = fc.record({
  now: fc.integer({ min: 1_000, max: 1_100 }),
  action: fc.constantFrom('tickets.read', 'tickets.close', 'tickets.assign', 'tickets.delete', 'tickets.other'),
  token: optional(
    fc.record({
      holder: fc.constantFrom(...clients, 'unbound'),
      scope: wide,
      act: optional(act),
      expiresAt: fc.integer({ min: 1_000, max: 2_000 }),
      task: optional(fc.record({ id: fc.constant('t1'), expiresAt: fc.integer({ min: 1_000, max: 2_000 }) })),
      intents: fc.array(
        fc.record({ task_id: fc.constant('t1'), actions: fc.subarray(['tickets.*', 'tickets.read']) }),
        {
          maxLength: 1,
        },
      ),
    }),
  ),
  grantType: fc.constantFrom(TE, 'client_credentials'),
})

describe('recorded evaluation facts', () => {
  it('decide again, with the same policy, exactly as the evaluation was decided', () => {
    fc.assert(
      fc.property(fc.option(actions, { nil: undefined }), actions, evaluationFacts, (root, leaf, generated) => {
        const catalog = catalogOf(root ? { actions: root } : {}, { actions: leaf })
        const { grantType, token, ...rest } = defined(generated)
        const facts: EvaluationFacts = token
          ? { ...rest, token, policy: evaluationPolicy(catalog, token.holder, API, grantType) }
          : { ...rest, policy: 'unbound' }
        const kept = RecordedEvaluation.parse(JSON.parse(JSON.stringify(recordEvaluation(facts, API, grantType))))
        expect(redecideEvaluation(kept, catalog)).toEqual(decideEvaluation(facts))
      }),
      { numRuns: 1000 },
    )
  })
})
