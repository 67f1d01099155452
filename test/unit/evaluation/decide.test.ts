// The evaluation decision as a value: the order its rules apply in, and what each one reads.
import { describe, expect, it } from 'vitest'
import { decideEvaluation, type EvaluationFacts } from '../../../src/evaluation/decide.ts'
import { type EffectivePolicy, effectivePolicy } from '../../../src/policy/effective.ts'
import { PolicyPathSpec } from '../../../src/policy/schema.ts'

const policy = (actions: unknown, extra: Record<string, unknown> = {}): EffectivePolicy =>
  effectivePolicy([{ path: 'p', version: 1, spec: PolicyPathSpec.parse({ actions, ...extra }) }])

const facts = (overrides: Partial<EvaluationFacts> = {}, token: Partial<NonNullable<EvaluationFacts['token']>> = {}) =>
  ({
    now: 1000,
    action: 'tickets.read',
    policy: policy([{ name: 'tickets.*', class: 'write' }]),
    token: {
      holder: 'agent',
      scope: ['tickets:read'],
      act: { sub: 'agent' },
      expiresAt: 1300,
      task: { id: 't1', expiresAt: 1200 },
      intents: [],
      ...token,
    },
    ...overrides,
  }) as EvaluationFacts

describe('decideEvaluation', () => {
  it('denies an inactive token first, whatever else holds', () => {
    const { token: _, ...inactive } = facts()
    expect(decideEvaluation(inactive)).toMatchObject({ allow: false, reason: 'token_inactive' })
  })

  it('allows by scope alone when no level declares actions, and only for a bound token', () => {
    expect(decideEvaluation(facts({ policy: 'none' }))).toEqual({ allow: true })
    expect(decideEvaluation(facts({ policy: policy(undefined) }))).toEqual({ allow: true })
    expect(decideEvaluation(facts({ policy: 'unbound' }))).toMatchObject({ reason: 'action_not_allowed' })
  })

  it('checks intent before the rule’s requirements, and every task’s intent', () => {
    const intents = [
      { task_id: 'parent', actions: ['tickets.*'] },
      { task_id: 'child', actions: ['tickets.comment'] },
    ]
    expect(decideEvaluation(facts({}, { intents }))).toMatchObject({
      reason: 'outside_task_intent',
      detail: 'tickets.read is not among the actions task child declared',
    })
  })

  it('takes the current actor (the outermost act of ours) for the rule’s actors, else the holder', () => {
    const onlyAgentTwo = policy([{ name: 'tickets.read', class: 'read', actors: ['agent-two'] }])
    // A token a trusted intermediary (gateway) holds for agent-two.
    const viaGateway = facts({ policy: onlyAgentTwo }, { holder: 'gateway', act: { sub: 'agent-two' } })
    expect(decideEvaluation(viaGateway)).toMatchObject({ allow: true })
    expect(decideEvaluation(facts({ policy: onlyAgentTwo }, { holder: 'gateway', act: undefined }))).toMatchObject({
      reason: 'actor_not_allowed',
      detail: 'gateway is not among the actors of tickets.read',
    })
    // An actor of another issuer (iss) is never one of our clients: the holder acts.
    const foreign = facts({ policy: onlyAgentTwo }, { holder: 'agent-two', act: { sub: 'bot', iss: 'https://idp' } })
    expect(decideEvaluation(foreign)).toMatchObject({ allow: true })
  })

  it('caps cache_max_age by the token’s and the task’s end', () => {
    const cached = policy([{ name: 'tickets.read', class: 'read', cache: '10m' }])
    expect(decideEvaluation(facts({ policy: cached }))).toMatchObject({ allow: true, cacheMaxAge: 200 })
    expect(decideEvaluation(facts({ policy: cached }, { task: undefined }))).toMatchObject({ cacheMaxAge: 300 })
  })

  it('applies the rule’s requirements in order: task, scope, the path’s current ceiling, depth', () => {
    const strict = policy([
      { name: 'tickets.read', class: 'read', task: 'required', scopes: ['tickets:read'], maxDepth: 0 },
    ])
    expect(decideEvaluation(facts({ policy: strict }, { task: undefined }))).toMatchObject({ reason: 'task_required' })
    expect(decideEvaluation(facts({ policy: strict }, { scope: [] }))).toMatchObject({ reason: 'insufficient_scope' })
    const narrowed = policy([{ name: 'tickets.read', class: 'read', scopes: ['tickets:read'] }], { scopes: ['other'] })
    expect(decideEvaluation(facts({ policy: narrowed }))).toMatchObject({ reason: 'insufficient_scope' })
    expect(decideEvaluation(facts({ policy: strict }))).toMatchObject({
      reason: 'chain_too_deep',
      detail: 'chain depth 1 exceeds 0 (agent)',
    })
  })
})
