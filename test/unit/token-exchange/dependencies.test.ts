import { describe, expect, it } from 'vitest'
import { dependenciesOf } from '../../../src/token-exchange/dependencies.ts'

describe('dependenciesOf', () => {
  it('is nothing for a foreign subject token, no actor token and no task', () => {
    expect(dependenciesOf(undefined, undefined, undefined)).toEqual({ dependsOn: [], taskPath: [] })
  })

  it('takes the subject token, what it depends on, and the task path', () => {
    const subject = { jti: 's', depends_on: ['root', 'p'], task_path: ['t1'] }
    expect(dependenciesOf(subject, undefined, { task_path: ['t1', 't2'] })).toEqual({
      dependsOn: ['root', 'p', 's'],
      taskPath: ['t1', 't2'],
    })
  })

  it('adds the actor token and everything it depends on, once each', () => {
    const subject = { jti: 's', depends_on: ['root'], task_path: ['t1'] }
    const actor = { jti: 'a', depends_on: ['root', 'x'], task_path: ['t1', 't9'] }
    expect(dependenciesOf(subject, actor, undefined)).toEqual({
      dependsOn: ['root', 's', 'x', 'a'],
      taskPath: ['t1', 't9'],
    })
  })
})
