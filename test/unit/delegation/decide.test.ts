import { describe, expect, it } from 'vitest'
import { type EffectivePolicy, effectivePolicy } from '../../../src/policy/effective.ts'
import { decideExchange, type ExchangeFacts, type TaskFacts } from '../../../src/delegation/decide.ts'
import { PolicyPathSpec } from '../../../src/policy/schema.ts'

const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'
const spec = (value: unknown) => PolicyPathSpec.parse(value)
const policy = (over: Partial<EffectivePolicy> = {}): EffectivePolicy => ({
  ...effectivePolicy([
    {
      path: 'acme/p',
      version: 3,
      spec: spec({ scopes: ['a', 'b'], tokenLifetime: '5m', delegation: { maxDepth: 2 } }),
    },
  ]),
  ...over,
})
type Facts = Omit<ExchangeFacts, 'policy'>
/** The decision under one policy (the facts hold it; these tests vary the two apart). */
const evaluatePolicy = (p: EffectivePolicy, f: Facts) => decideExchange({ ...f, policy: p })
/** A live task of the agent for alice, over the targeted resource. */
const task = (scope: string[], expiresAt: number): TaskFacts => ({
  id: 't1',
  live: true,
  listedActors: [],
  task: {
    task_id: 't1',
    client_id: 'agent',
    delegator: 'alice',
    delegator_issuer: 'self',
    resources: ['https://api.test'],
    scope,
    expiresAt,
    task_path: ['t1'],
  },
})
const facts = (over: Partial<Facts> = {}): Facts => ({
  now: 1_000,
  client: 'agent',
  confidential: true,
  actorIssuer: 'https://mandate.test',
  subject: { issuer: 'self', tokenType: ACCESS_TOKEN, sub: 'alice', scope: ['a', 'b', 'c'], expiresAt: 2_000 },
  resource: { uris: ['https://api.test'], scopes: ['a', 'b', 'c'], accessTokenLifetime: 600 },
  clientScopes: ['a', 'b', 'c'],
  ...over,
})
/** An identity actor token of `holder` (a client_credentials token). */
const own = (holder: string, over: Partial<NonNullable<ExchangeFacts['actor']>> = {}) => ({
  holder,
  sub: holder,
  origin: 'self',
  ...over,
})

describe('decideExchange', () => {
  it('allows, narrows to every bound, and nests the client as the current actor', () => {
    expect(evaluatePolicy(policy(), facts({ requestedScope: ['a'] }))).toEqual({
      allow: true,
      reason: 'allowed',
      scope: ['a'],
      act: { sub: 'agent' },
      expiresAt: 1_300,
      lifetime: 300,
      constrainedBy: [{ by: 'policy:acme/p', lifetime: true }],
      dependencies: { dependsOn: [], taskPath: [], size: 0 },
      parties: ['agent'],
    })
  })

  it('grants the intersection of the bounds when nothing is requested', () => {
    expect(evaluatePolicy(policy(), facts({ task: task(['b', 'c'], 5_000) }))).toMatchObject({
      scope: ['b'],
    })
  })

  it('keeps the chain: the new actor wraps the subject token act', () => {
    const decision = evaluatePolicy(policy(), facts({ subject: { ...facts().subject, act: { sub: 'first' } } }))
    expect(decision).toMatchObject({ act: { sub: 'agent', act: { sub: 'first' } } })
  })

  it.each([
    ['the subject token expires first', facts({ subject: { ...facts().subject, expiresAt: 1_100 } }), 1_100],
    ['the policy lifetime is shortest', facts(), 1_300],
    [
      'the resource lifetime is shortest',
      facts({ resource: { uris: ['https://api.test'], scopes: ['a'], accessTokenLifetime: 60 } }),
      1_060,
    ],
    ['the task ends first', facts({ task: task(['a'], 1_010) }), 1_010],
    ['the actor token ends first', facts({ actor: own('agent', { expiresAt: 1_020 }) }), 1_020],
  ])('never outlives any bound: %s', (_, f, expiresAt) => {
    expect(evaluatePolicy(policy(), f)).toMatchObject({ allow: true, expiresAt })
  })

  it('accepts may_act naming the actor in our own issuer', () => {
    const mayAct = { sub: 'agent', iss: 'https://mandate.test' }
    expect(evaluatePolicy(policy(), facts({ subject: { ...facts().subject, mayAct } }))).toMatchObject({ allow: true })
  })

  it('impersonates where the path only allows impersonation', () => {
    expect(evaluatePolicy(policy({ modes: ['impersonation'] }), facts())).toEqual({
      allow: true,
      reason: 'allowed',
      scope: ['a', 'b'],
      expiresAt: 1_300,
      lifetime: 300,
      constrainedBy: [
        { by: 'policy:acme/p', scope: ['c'] },
        { by: 'policy:acme/p', lifetime: true },
      ],
      dependencies: { dependsOn: [], taskPath: [], size: 0 },
      parties: ['agent'],
    })
  })

  it('with either mode: impersonation without an actor_token, delegation with one', () => {
    const either = policy({ modes: ['delegation', 'impersonation'] })
    expect(evaluatePolicy(either, facts())).not.toHaveProperty('act')
    expect(evaluatePolicy(either, facts({ actor: own('agent') }))).toMatchObject({
      act: { sub: 'agent' },
    })
  })

  it('lets a trusted intermediary act as the actor it presents', () => {
    const p = policy({ intermediaries: [{ client: 'gateway', actors: ['agent-b'] }] })
    expect(evaluatePolicy(p, facts({ client: 'gateway', actor: own('agent-b') }))).toMatchObject({
      act: { sub: 'agent-b' },
    })
  })

  const deep = { sub: 'x', act: { sub: 'y' } }
  it.each([
    [
      'the issuer is not allowed',
      policy({ issuers: ['self'] }),
      facts({ subject: { ...facts().subject, issuer: 'idp' } }),
      'subject_token.issuer_not_allowed',
    ],
    [
      'the token type is not allowed',
      policy({ subjectTypes: ['urn:ietf:params:oauth:token-type:jwt'] }),
      facts(),
      'subject_token.type_not_allowed',
    ],
    [
      "an actor_token is another's and the client is no intermediary",
      policy(),
      facts({ actor: own('other') }),
      'actor_token.not_bound_to_client',
    ],
    [
      'may_act names someone else',
      policy(),
      facts({ subject: { ...facts().subject, mayAct: { sub: 'other' } } }),
      'delegation.may_act_mismatch',
    ],
    [
      'may_act names the actor, but in another issuer',
      policy(),
      facts({ subject: { ...facts().subject, mayAct: { sub: 'agent', iss: 'https://elsewhere.test' } } }),
      'delegation.may_act_mismatch',
    ],
    [
      'the impersonator is not a listed actor',
      policy({ modes: ['impersonation'], actors: ['someone-else'] }),
      facts(),
      'delegation.actor_not_allowed',
    ],
    [
      'our token, but its sub was vouched for by an issuer the path does not accept',
      policy(),
      facts({ subject: { ...facts().subject, origin: 'some-idp' } }),
      'subject_token.issuer_not_allowed',
    ],
    ['levels disagree on the mode', policy({ modes: [] }), facts(), 'delegation.mode_not_allowed'],
    [
      'a delegated token would be impersonated',
      policy({ modes: ['impersonation'] }),
      facts({ subject: { ...facts().subject, act: { sub: 'a1' } } }),
      'delegation.impersonation_of_delegated_token',
    ],
    [
      'the chain would be too deep',
      policy(),
      facts({ subject: { ...facts().subject, act: deep } }),
      'delegation.too_deep',
    ],
    [
      'an actor in the chain is not listed',
      policy({ actors: ['agent'] }),
      facts({ subject: { ...facts().subject, act: { sub: 'stranger' } } }),
      'delegation.actor_not_allowed',
    ],
    ['the scope exceeds the subject', policy(), facts({ requestedScope: ['a', 'd'] }), 'scope.not_allowed'],
    ['the scope exceeds the policy', policy(), facts({ requestedScope: ['c'] }), 'scope.not_allowed'],
    [
      "the scope exceeds the client's registered scopes",
      policy(),
      facts({ requestedScope: ['b'], clientScopes: ['a'] }),
      'scope.not_allowed',
    ],
    ['the client has no registered scope at all', policy(), facts({ clientScopes: [] }), 'scope.not_allowed'],
    [
      'the scope exceeds the registered scopes of the actor an intermediary presents',
      policy({ intermediaries: [{ client: 'gateway', actors: ['agent-b'] }] }),
      facts({ client: 'gateway', actor: own('agent-b'), actorScopes: ['a'], requestedScope: ['b'] }),
      'scope.not_allowed',
    ],
    [
      'our token issued to another client that is neither in its chain nor an accepted holder',
      policy(),
      facts({ subject: { ...facts().subject, holder: 'other-agent' } }),
      'subject_token.holder_not_allowed',
    ],
    [
      'our token whose holder is in its chain, but not a listed actor',
      policy({ actors: ['agent', 'first'] }),
      facts({ subject: { ...facts().subject, holder: 'stranger', act: { sub: 'stranger' } } }),
      'subject_token.holder_not_allowed',
    ],
    [
      "an accepted holder's token, once the holder joins the chain, is too deep",
      policy({ holders: ['svc'], maxDepth: 1 }),
      facts({ subject: { ...facts().subject, holder: 'svc' } }),
      'delegation.too_deep',
    ],
    [
      'an accepted holder would vanish by impersonation',
      policy({ holders: ['svc'], modes: ['impersonation'] }),
      facts({ subject: { ...facts().subject, holder: 'svc' } }),
      'delegation.impersonation_of_delegated_token',
    ],
    [
      'the subject and actor roles are swapped (the actor token speaks for the person)',
      policy(),
      facts({
        subject: { ...facts().subject, sub: 'agent', holder: 'agent' },
        actor: own('agent', { sub: 'alice', act: { sub: 'agent' } }),
      }),
      'delegation.roles_swapped',
    ],
    [
      "the actor token belongs to another person's delegation (splicing)",
      policy(),
      facts({ actor: own('agent', { sub: 'bob', act: { sub: 'agent' } }) }),
      'delegation.chain_spliced',
    ],
    [
      'the actor token is for the same person, vouched for by another issuer (splicing)',
      policy(),
      facts({ actor: own('agent', { sub: 'alice', origin: 'some-idp', act: { sub: 'agent' } }) }),
      'delegation.chain_spliced',
    ],
    [
      'the chain returns to an earlier actor (A → B → A)',
      policy({ maxDepth: 5, actors: ['agent', 'b'] }),
      facts({ subject: { ...facts().subject, holder: 'b', act: { sub: 'b', act: { sub: 'agent' } } } }),
      'delegation.cycle',
    ],
    [
      'an actor would act for itself',
      policy(),
      facts({ subject: { ...facts().subject, sub: 'agent', holder: 'agent' } }),
      'delegation.cycle',
    ],
    [
      'the path requires DPoP and the request has no proof',
      policy({ requireDpop: true }),
      facts(),
      'request.dpop_required',
    ],
    [
      'the client requires DPoP and the request has no proof',
      policy(),
      facts({ clientRequiresDpop: true }),
      'request.dpop_required',
    ],
    [
      'a DPoP-bound subject token without a proof',
      policy(),
      facts({ subject: { ...facts().subject, jkt: 'key-1' } }),
      'subject_token.key_not_proven',
    ],
    [
      'a DPoP-bound subject token with a proof of another key',
      policy(),
      facts({ subject: { ...facts().subject, jkt: 'key-1' }, dpopJkt: 'key-2' }),
      'subject_token.key_not_proven',
    ],
    [
      'a DPoP-bound actor token with a proof of another key',
      policy(),
      facts({ actor: own('agent', { jkt: 'key-1' }), dpopJkt: 'key-2' }),
      'actor_token.key_not_proven',
    ],
    [
      'the scope exceeds the task',
      policy(),
      facts({ requestedScope: ['b'], task: task(['a'], 5_000) }),
      'scope.not_allowed',
    ],
    [
      'nothing is left once the bounds intersect (no scope requested)',
      policy(),
      facts({ subject: { ...facts().subject, scope: ['c'] } }),
      'scope.not_allowed',
    ],
    [
      'the subject token has expired',
      policy(),
      facts({ subject: { ...facts().subject, expiresAt: 1_000 } }),
      'lifetime.exhausted',
    ],
  ] as const)('denies when %s', (_, p, f, reason) => {
    expect(evaluatePolicy(p, f)).toMatchObject({ allow: false, reason })
  })
})

describe('decideExchange: the client, the task and the lineage', () => {
  const taskOf = (over: Partial<NonNullable<TaskFacts['task']>>, facts: Partial<TaskFacts> = {}): TaskFacts => ({
    ...task(['a', 'b'], 5_000),
    ...facts,
    task: { ...(task(['a', 'b'], 5_000).task as NonNullable<TaskFacts['task']>), ...over },
  })
  const lineage = (over: { ancestors?: string[]; task_path?: string[] } = {}) => ({
    jti: 'parent',
    ancestors: [],
    depends_on: [],
    task_path: [],
    client_id: 'alice-app',
    parties: ['alice-app'],
    ...over,
  })

  it.each([
    ['the client is public', facts({ confidential: false }), 'client.not_confidential', undefined],
    [
      'the task is unknown',
      facts({ task: { id: 't9', live: false, listedActors: [] } }),
      'task.invalid',
      'task t9 is unknown, completed or expired',
    ],
    [
      'the task (or one above it) has ended',
      facts({ task: { ...task(['a'], 5_000), live: false } }),
      'task.invalid',
      'task t1 is unknown, completed or expired',
    ],
    [
      'the subject is not the task delegator',
      facts({ task: taskOf({ delegator: 'bob' }) }),
      'task.invalid',
      'the subject is not the task delegator',
    ],
    [
      'the delegator is of another issuer',
      facts({ task: taskOf({ delegator_issuer: 'idp' }) }),
      'task.invalid',
      'the subject is not the task delegator',
    ],
    [
      'another client works on the task without being a listed sub-agent',
      facts({ task: taskOf({ client_id: 'other' }), subject: { ...facts().subject, act: { sub: 'other' } } }),
      'task.invalid',
      'agent is neither the task agent nor a sub-agent it delegated to',
    ],
    [
      'a listed sub-agent works from a token its agent did not delegate',
      facts({ task: taskOf({ client_id: 'other' }, { listedActors: ['agent'] }) }),
      'task.invalid',
      'agent is neither the task agent nor a sub-agent it delegated to',
    ],
    [
      'a target is outside the task',
      facts({ task: taskOf({ resources: ['https://elsewhere.test'] }) }),
      'target.not_in_task',
      'https://api.test',
    ],
    ['the path requires a task and none is named', facts(), 'request.task_required', undefined],
    [
      'more than 32 tokens stand behind the new one',
      facts({
        subject: {
          ...facts().subject,
          lineage: lineage({ ancestors: Array.from({ length: 32 }, (_, i) => `a${i}`) }),
        },
      }),
      'delegation.too_deep',
      '33 tokens behind it',
    ],
  ] as const)('denies when %s', (name, f, reason, detail) => {
    const p = name.includes('requires a task') ? policy({ task: { required: true } }) : policy()
    const decision = evaluatePolicy(p, f)
    expect(decision).toEqual({ allow: false, reason, ...(detail ? { detail } : {}) })
  })

  it('lets a listed sub-agent work on the task from a token the agent delegated', () => {
    const f = facts({
      task: taskOf({ client_id: 'other' }, { listedActors: ['agent'] }),
      subject: { ...facts().subject, act: { sub: 'other' } },
    })
    expect(evaluatePolicy(policy(), f)).toMatchObject({ allow: true, act: { sub: 'agent', act: { sub: 'other' } } })
  })

  it('lets the task cap scope and lifetime, names it, and carries its path into the dependencies', () => {
    const f = facts({
      task: taskOf({ scope: ['a'], expiresAt: 1_050, task_path: ['root', 't1'] }),
      subject: { ...facts().subject, lineage: lineage({ ancestors: ['grand'], task_path: ['root'] }) },
    })
    expect(evaluatePolicy(policy(), f)).toEqual({
      allow: true,
      reason: 'allowed',
      scope: ['a'],
      act: { sub: 'agent' },
      expiresAt: 1_050,
      lifetime: 50,
      constrainedBy: [
        { by: 'policy:acme/p', scope: ['c'] },
        { by: 'task', scope: ['b'] },
        { by: 'task', lifetime: true },
      ],
      dependencies: { dependsOn: [], taskPath: ['root', 't1'], size: 2 },
      parties: ['agent', 'alice-app'],
    })
  })

  it('says which bound refused a requested scope', () => {
    expect(evaluatePolicy(policy(), facts({ requestedScope: ['a', 'c'], clientScopes: ['b'] }))).toEqual({
      allow: false,
      reason: 'scope.not_allowed',
      detail: 'a c',
      constrainedBy: [
        { by: 'policy:acme/p', scope: ['c'] },
        { by: 'client', scope: ['a'] },
      ],
    })
  })
})

describe('decideExchange: whose token, and an honest chain', () => {
  it("lets a listed actor in the subject's chain hold it: a sub-agent works from its agent's token", () => {
    const subject = { ...facts().subject, holder: 'first', act: { sub: 'first' } }
    expect(evaluatePolicy(policy({ actors: ['agent', 'first'] }), facts({ subject }))).toMatchObject({
      allow: true,
      act: { sub: 'agent', act: { sub: 'first' } },
    })
  })

  it('records an accepted holder that is not the subject in the chain: a holder never vanishes', () => {
    const subject = { ...facts().subject, holder: 'svc' }
    expect(evaluatePolicy(policy({ holders: ['svc'] }), facts({ subject }))).toMatchObject({
      allow: true,
      act: { sub: 'agent', act: { sub: 'svc' } },
    })
  })

  it("does not add an accepted holder that is the subject itself (a service's own token)", () => {
    const subject = { ...facts().subject, sub: 'svc', holder: 'svc' }
    expect(evaluatePolicy(policy({ holders: ['svc'] }), facts({ subject }))).toMatchObject({
      allow: true,
      act: { sub: 'agent' },
    })
  })

  it('chooses delegation under "either" when the holder must join the chain', () => {
    const subject = { ...facts().subject, holder: 'svc' }
    const either = policy({ holders: ['svc'], modes: ['delegation', 'impersonation'] })
    expect(evaluatePolicy(either, facts({ subject }))).toMatchObject({ act: { sub: 'agent', act: { sub: 'svc' } } })
  })

  it('keeps the chain when its current actor exchanges its own token again (narrowing is not a hop)', () => {
    const subject = { ...facts().subject, holder: 'agent', act: { sub: 'agent' } }
    expect(evaluatePolicy(policy(), facts({ subject, requestedScope: ['a'] }))).toMatchObject({
      allow: true,
      scope: ['a'],
      act: { sub: 'agent' },
    })
  })

  it('compares parties within their issuer: a foreign person named like one of our clients is no cycle', () => {
    const subject = { ...facts().subject, issuer: 'idp', sub: 'agent' }
    expect(evaluatePolicy(policy({ issuers: ['idp'] }), facts({ subject }))).toMatchObject({
      allow: true,
      act: { sub: 'agent' },
    })
  })

  it('never counts an actor of another issuer as a listed actor, holder or party', () => {
    const subject = { ...facts().subject, issuer: 'idp', act: { sub: 'first', iss: 'https://idp.test' } }
    expect(evaluatePolicy(policy({ issuers: ['idp'], actors: ['agent', 'first'] }), facts({ subject }))).toMatchObject({
      allow: false,
      reason: 'delegation.actor_not_allowed',
    })
    expect(evaluatePolicy(policy({ issuers: ['idp'] }), facts({ subject }))).toMatchObject({
      allow: true,
      act: { sub: 'agent', act: { sub: 'first', iss: 'https://idp.test' } },
    })
  })

  it('lets an intermediary re-exchange a token it holds as the actor it presents, the chain kept', () => {
    const p = policy({ intermediaries: [{ client: 'gateway', actors: ['agent-b'] }] })
    const subject = { ...facts().subject, holder: 'gateway', act: { sub: 'agent-b' } }
    expect(evaluatePolicy(p, facts({ client: 'gateway', actor: own('agent-b'), subject }))).toMatchObject({
      allow: true,
      act: { sub: 'agent-b' },
    })
  })

  it("accepts a delegated actor token of the same person's delegation", () => {
    const actor = own('agent', { sub: 'alice', act: { sub: 'agent' } })
    expect(evaluatePolicy(policy(), facts({ actor }))).toMatchObject({ allow: true, act: { sub: 'agent' } })
  })

  it('accepts a bound subject token with a proof of its key', () => {
    const subject = { ...facts().subject, jkt: 'key-1' }
    expect(evaluatePolicy(policy({ requireDpop: true }), facts({ subject, dpopJkt: 'key-1' }))).toMatchObject({
      allow: true,
    })
  })
})

describe('effectivePolicy', () => {
  it('intersects along the path: scopes and actors intersect, lifetimes and depths take the minimum, task requirement is sticky', () => {
    const effective = effectivePolicy([
      {
        path: 'acme',
        version: 1,
        spec: spec({
          scopes: ['a', 'b', 'c'],
          tokenLifetime: '10m',
          delegation: { maxDepth: 3, actors: ['x', 'y', 'z'] },
          task: { required: true },
        }),
      },
      { path: 'acme/support', version: 4, spec: spec({ delegation: { mode: 'either' } }) },
      {
        path: 'acme/support/p',
        version: 2,
        spec: spec({
          scopes: ['b', 'c', 'd'],
          tokenLifetime: '5m',
          delegation: { maxDepth: 5, mode: 'delegation', actors: ['y', 'z', 'w'] },
          task: { required: false, maxLifetime: '1h' },
        }),
      },
    ])
    expect(effective).toEqual({
      path: 'acme/support/p',
      version: 2,
      actions: [],
      versions: { acme: 1, 'acme/support': 4, 'acme/support/p': 2 },
      levels: [
        { path: 'acme', scopes: ['a', 'b', 'c'], tokenLifetime: 600 },
        { path: 'acme/support' },
        { path: 'acme/support/p', scopes: ['b', 'c', 'd'], tokenLifetime: 300 },
      ],
      scopes: ['b', 'c'],
      tokenLifetime: 300,
      issuers: ['self'],
      modes: ['delegation'],
      actors: ['y', 'z'],
      maxDepth: 3,
      intermediaries: [],
      holders: [],
      task: { required: true, maxLifetime: 3600 },
      requireDpop: false,
    })
  })

  it('accepts a holder only where every level that names holders does, and requires DPoP if any level does', () => {
    const effective = effectivePolicy([
      { path: 'a', version: 1, spec: spec({ subjectTokens: { holders: ['x', 'y'] }, requireDpop: true }) },
      { path: 'a/b', version: 1, spec: spec({ subjectTokens: { holders: ['y', 'z'] }, requireDpop: false }) },
    ])
    expect({ holders: effective.holders, requireDpop: effective.requireDpop }).toEqual({
      holders: ['y'],
      requireDpop: true,
    })
  })

  it('allows a mode only if every level allows it', () => {
    const levels = [
      { path: 'a', version: 1, spec: spec({ delegation: { mode: 'impersonation' } }) },
      { path: 'a/b', version: 1, spec: spec({ delegation: { mode: 'delegation' } }) },
    ]
    expect(effectivePolicy(levels).modes).toEqual([])
  })

  it('defaults to delegation of depth 1, our own tokens only, no task required', () => {
    expect(effectivePolicy([{ path: 'p', version: 1, spec: spec({}) }])).toEqual({
      path: 'p',
      version: 1,
      actions: [],
      versions: { p: 1 },
      levels: [{ path: 'p' }],
      issuers: ['self'],
      modes: ['delegation'],
      maxDepth: 1,
      intermediaries: [],
      holders: [],
      task: { required: false },
      requireDpop: false,
    })
  })
})
