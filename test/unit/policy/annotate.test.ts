import { describe, expect, it } from 'vitest'
import { annotatedPolicy } from '../../../src/policy/annotate.ts'
import { effectivePolicy } from '../../../src/policy/effective.ts'
import { PolicyPathSpec } from '../../../src/policy/schema.ts'

const levels = [
  { path: 'a', version: 3, spec: PolicyPathSpec.parse({ scopes: ['x', 'y'], tokenLifetime: '5m', requireDpop: true }) },
  { path: 'a/b', version: 1, spec: PolicyPathSpec.parse({ tokenLifetime: '10m', delegation: { maxDepth: 2 } }) },
  { path: 'a/b/c', version: 7, spec: PolicyPathSpec.parse({ scopes: ['y', 'z'], tokenLifetime: '5m' }) },
]

describe('annotatedPolicy', () => {
  it('gives effective.ts’s values, each with the levels that set it (for a minimum, the ones at it)', () => {
    const annotated = annotatedPolicy(levels)
    const effective = effectivePolicy(levels)
    expect(annotated).toMatchObject({
      path: 'a/b/c',
      version: 7,
      versions: { a: 3, 'a/b': 1, 'a/b/c': 7 },
      scopes: { value: effective.scopes, from: ['a', 'a/b/c'] },
      tokenLifetime: { value: 300, from: ['a', 'a/b/c'] },
      maxDepth: { value: 2, from: ['a/b'] },
      requireDpop: { value: true, from: ['a'] },
      taskRequired: { value: false, from: [] },
    })
    expect(annotated.scopes.value).toEqual(['y'])
  })

  it('says a default applies with an empty from', () => {
    const annotated = annotatedPolicy([{ path: 'p', version: 1, spec: PolicyPathSpec.parse({}) }])
    expect(annotated).toMatchObject({
      scopes: { value: null, from: [] },
      maxDepth: { value: 1, from: [] },
      subjectIssuers: { value: ['self'], from: [] },
      modes: { value: ['delegation'], from: [] },
    })
  })
})
