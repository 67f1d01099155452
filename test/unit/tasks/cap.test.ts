import { describe, expect, it } from 'vitest'
import { capTask, DEFAULT_TASK_LIFETIME, type TaskBounds } from '../../../src/tasks/cap.ts'

const bounds = (over: Partial<TaskBounds> = {}): TaskBounds => ({
  now: 1_000,
  subject: { scope: ['a', 'b', 'c'], expiresAt: 100_000 },
  clientScopes: ['a', 'b', 'c'],
  resources: [{ uri: 'r1', catalogue: ['a', 'b', 'c', 'd'], ceiling: ['a', 'b'], maxLifetime: 3_600 }],
  ...over,
})

describe('capTask', () => {
  it('grants what every bound allows when nothing is requested', () => {
    expect(capTask({ resources: ['r1'] }, bounds())).toEqual({ ok: true, scope: ['a', 'b'], expiresAt: 4_600 })
  })

  it.each([
    ['the request', { resources: ['r1'], expiresIn: 60 }, bounds(), 1_060],
    ["the path's task.maxLifetime", { resources: ['r1'], expiresIn: 99_999 }, bounds(), 4_600],
    [
      "the person token's expiry",
      { resources: ['r1'] },
      bounds({ subject: { scope: ['a'], expiresAt: 1_500 } }),
      1_500,
    ],
    [
      'the parent task',
      { resources: ['r1'] },
      bounds({ parent: { resources: ['r1'], scope: ['a', 'b'], expiresAt: 2_000 } }),
      2_000,
    ],
    [
      'the default lifetime',
      { resources: ['r1'] },
      bounds({ resources: [{ uri: 'r1', catalogue: ['a'] }] }),
      1_000 + DEFAULT_TASK_LIFETIME,
    ],
  ])('caps the lifetime by %s', (_, request, b, expiresAt) => {
    expect(capTask(request, b)).toMatchObject({ ok: true, expiresAt })
  })

  it('takes the shortest task lifetime of several resources and the union of what they offer', () => {
    const b = bounds({
      resources: [
        { uri: 'r1', catalogue: ['a', 'b'], ceiling: ['a'], maxLifetime: 600 },
        { uri: 'r2', catalogue: ['c'], maxLifetime: 120 },
      ],
    })
    expect(capTask({ resources: ['r1', 'r2'] }, b)).toEqual({ ok: true, scope: ['a', 'c'], expiresAt: 1_120 })
  })

  it.each([
    ['a scope beyond the ceiling', { resources: ['r1'], scope: ['c'] }, bounds(), 'invalid_scope'],
    [
      'a scope beyond the person token',
      { resources: ['r1'], scope: ['a'] },
      bounds({ subject: { scope: ['b'], expiresAt: 9_999 } }),
      'invalid_scope',
    ],
    [
      "a scope beyond the agent's registered scopes",
      { resources: ['r1'], scope: ['b'] },
      bounds({ clientScopes: ['a'] }),
      'invalid_scope',
    ],
    [
      'a scope beyond the parent',
      { resources: ['r1'], scope: ['b'] },
      bounds({ parent: { resources: ['r1'], scope: ['a'], expiresAt: 9_999 } }),
      'invalid_scope',
    ],
    [
      'nothing left in common with the person token (no scope requested)',
      { resources: ['r1'] },
      bounds({ subject: { scope: ['d'], expiresAt: 9_999 } }),
      'invalid_scope',
    ],
    [
      'a resource beyond the parent',
      { resources: ['r1'] },
      bounds({ parent: { resources: ['r2'], scope: ['a'], expiresAt: 9_999 } }),
      'invalid_target',
    ],
    [
      'an expired person token',
      { resources: ['r1'] },
      bounds({ subject: { scope: ['a'], expiresAt: 1_000 } }),
      'invalid_request',
    ],
  ] as const)('refuses %s', (_, request, b, error) => {
    expect(capTask(request, b)).toMatchObject({ ok: false, error })
  })
})
