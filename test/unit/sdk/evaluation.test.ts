import { describe, expect, it } from 'vitest'
import { evaluationItem, failureForStatus, readAnswer } from '../../../sdk/resource-server/evaluation.ts'

const id = '0b8a3c53-7c36-4b1c-9a51-2f0e4c7a9d10'

describe("reading Mandate's answer", () => {
  it('reads an allow with its cache_max_age', () => {
    expect(readAnswer({ decision: true, context: { decision_id: id, cache_max_age: 30 } })).toEqual({
      decision: true,
      decisionId: id,
      cacheMaxAge: 30,
    })
  })

  it('reads a deny with its reason, approval and user-facing text', () => {
    const context = {
      decision_id: id,
      reason: 'approval_required',
      approval_id: 'a1',
      reason_user: { en: 'Ask', x: 1 },
    }
    expect(readAnswer({ decision: false, context })).toEqual({
      decision: false,
      decisionId: id,
      reason: 'approval_required',
      approvalId: 'a1',
      reasonUser: { en: 'Ask' },
    })
  })

  it('takes the decision id from X-Decision-Id when the context lacks it', () => {
    expect(readAnswer({ decision: true }, id)).toEqual({ decision: true, decisionId: id, cacheMaxAge: undefined })
  })

  it.each([
    ['not an object', 'true'],
    ['a decision that is not a boolean', { decision: 'true', context: { decision_id: id } }],
    ['no decision id anywhere', { decision: true, context: {} }],
    ['a deny without a reason', { decision: false, context: { decision_id: id } }],
    ['an array', [{ decision: true }]],
  ])('refuses %s (the caller fails closed)', (_, value) => {
    expect(readAnswer(value)).toBeUndefined()
  })
})

describe('failureForStatus', () => {
  it.each([
    [503, 503],
    [502, 503],
    [429, 503],
    [500, 503],
    [400, 500],
    [401, 500],
    [403, 500],
    [404, 500],
  ])('maps HTTP %i to a %i failure', (status, mapped) => {
    expect(failureForStatus(status, { error: 'x' })).toEqual({
      decision: false,
      failure: { status: mapped, detail: `evaluation API answered HTTP ${status}: x` },
    })
  })
})

describe('evaluationItem', () => {
  it('names this resource as the AuthZEN resource type and the object as its id', () => {
    expect(
      evaluationItem('https://api.test/', {
        action: 'tickets.delete',
        object: 'ticket-42',
        properties: { p: 1 },
        actionProperties: { q: 2 },
      }),
    ).toEqual({
      resource: { type: 'https://api.test/', id: 'ticket-42', properties: { p: 1 } },
      action: { name: 'tickets.delete', properties: { q: 2 } },
    })
  })
})
