import { describe, expect, it } from 'vitest'
import { dependenciesOf } from '../../../src/delegation/dependencies.ts'

const token = (jti: string, over: { ancestors?: string[]; depends_on?: string[]; task_path?: string[] } = {}) => ({
  jti,
  ancestors: [],
  depends_on: [],
  task_path: [],
  ...over,
})

describe('dependenciesOf', () => {
  it('is nothing for a foreign subject token, no actor token and no task', () => {
    expect(dependenciesOf(undefined, undefined, undefined)).toEqual({ dependsOn: [], taskPath: [], size: 0 })
  })

  it("keeps the parent chain in ancestors and carries the parent's other dependencies and tasks", () => {
    const subject = token('s', { ancestors: ['root', 'p'], depends_on: ['x'], task_path: ['t1'] })
    expect(dependenciesOf(subject, undefined, { task_path: ['t1', 't2'] })).toEqual({
      dependsOn: ['x'],
      taskPath: ['t1', 't2'],
      size: 4, // root, p, s + x
    })
  })

  it('adds the actor token, its chain and its dependencies, once each and never twice with the ancestors', () => {
    const subject = token('s', { ancestors: ['root'], task_path: ['t1'] })
    const actor = token('a', { ancestors: ['root', 'q'], depends_on: ['y'], task_path: ['t1', 't9'] })
    expect(dependenciesOf(subject, actor, undefined)).toEqual({
      dependsOn: ['q', 'y', 'a'],
      taskPath: ['t1', 't9'],
      size: 5,
    })
  })
})
