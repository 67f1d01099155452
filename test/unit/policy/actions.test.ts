// Action rules of policy paths: matching, the intersection across levels and default deny.
import { describe, expect, it } from 'vitest'
import { allowsIntent, resolveAction } from '../../../src/policy/action-requirement.ts'
import { ActionRules, covers, ruleFor } from '../../../src/policy/actions.ts'

const rules = (value: unknown) => ActionRules.parse(value)

describe('covers and ruleFor', () => {
  it.each([
    ['*', 'tickets.read', true],
    ['tickets.*', 'tickets.read', true],
    ['tickets.*', 'tickets.comments.add', true],
    ['tickets.*', 'tickets.*', true],
    ['tickets.*', 'tickets', false],
    ['tickets.*', 'ticketsx.read', false],
    ['tickets.read', 'tickets.read', true],
    ['tickets.read', 'tickets.*', false],
    ['tickets.read', 'tickets.readall', false],
  ])('%s covers %s: %s', (pattern, name, expected) => {
    expect(covers(pattern, name)).toBe(expected)
  })

  it('prefers the exact name, then the longest pattern', () => {
    const level = rules([
      { name: '*', class: 'read' },
      { name: 'tickets.*', class: 'write' },
      { name: 'tickets.comments.*', class: 'write', scopes: ['comments'] },
      { name: 'tickets.delete', class: 'destructive' },
    ])
    expect(ruleFor(level, 'tickets.delete')?.class).toBe('destructive')
    expect(ruleFor(level, 'tickets.comments.add')?.scopes).toEqual(['comments'])
    expect(ruleFor(level, 'tickets.read')?.name).toBe('tickets.*')
    expect(ruleFor(level, 'billing.read')?.name).toBe('*')
  })
})

describe('the schema', () => {
  it.each([
    [[{ name: 'Tickets.read', class: 'read' }], 'an action name'],
    [[{ name: 'tickets.*.x', class: 'read' }], 'a pattern'],
    [[{ name: 'tickets.read', class: 'admin' }], 'Invalid option'],
    [[{ name: 'a', class: 'read', cache: '30s', rate: { max: 1, per: '1m' } }], 'cache cannot be set'],
    [[{ name: 'a', class: 'read', cache: '30s', approval: 'delegator' }], 'cache cannot be set'],
    [
      [
        { name: 'a', class: 'read' },
        { name: 'a', class: 'write' },
      ],
      'duplicate action a',
    ],
    [[{ name: 'a', class: 'read', extra: 1 }], 'Unrecognized key'],
  ])('refuses %j', (value, message) => {
    const result = ActionRules.safeParse(value)
    expect(result.success).toBe(false)
    expect(JSON.stringify(result.error?.issues)).toContain(message)
  })

  it('reads durations as seconds', () => {
    expect(rules([{ name: 'a', class: 'read', rate: { max: 20, per: '1m' }, cache: undefined }])[0]?.rate).toEqual({
      max: 20,
      per: 60,
    })
  })
})

describe('resolveAction', () => {
  const root = {
    path: 'acme',
    rules: rules([{ name: 'tickets.*', class: 'write', scopes: ['tickets:read'], cache: '60s' }]),
  }
  const leaf = {
    path: 'acme/support',
    rules: rules([
      { name: 'tickets.read', class: 'read', maxDepth: 2, actors: ['a', 'b'], cache: '30s' },
      { name: 'tickets.delete', class: 'destructive', task: 'required', approval: 'delegator', maxDepth: 1 },
      { name: 'tickets.comment', class: 'write', rate: { max: 20, per: '1m' }, actors: ['b', 'c'] },
    ]),
  }

  it('leaves the action to scope alone when no level declares actions', () => {
    expect(resolveAction([], 'anything')).toEqual({ kind: 'unruled' })
  })

  it('denies an action one declaring level has no rule for, naming that level', () => {
    expect(resolveAction([root, leaf], 'tickets.export')).toEqual({ kind: 'denied', path: 'acme/support' })
    expect(resolveAction([root, leaf], 'billing.read')).toEqual({ kind: 'denied', path: 'acme' })
    expect(resolveAction([{ path: 'x', rules: [] }], 'a')).toEqual({ kind: 'denied', path: 'x' })
  })

  it('combines the matching rules: strictest class, every scope, least depth, common actors, least cache', () => {
    expect(resolveAction([root, leaf], 'tickets.read')).toEqual({
      kind: 'ruled',
      requirement: {
        class: 'write',
        scopes: ['tickets:read'],
        taskRequired: false,
        maxDepth: 2,
        actors: ['a', 'b'],
        rates: [],
        approval: false,
        cache: 30,
        matched: [
          { path: 'acme', rule: 'tickets.*' },
          { path: 'acme/support', rule: 'tickets.read' },
        ],
      },
    })
  })

  it('never lets an allow of a counted or approved action be reused, nor one a level does not let be cached', () => {
    const del = resolveAction([root, leaf], 'tickets.delete')
    expect(del).toMatchObject({
      kind: 'ruled',
      requirement: { class: 'destructive', approval: true, taskRequired: true },
    })
    expect(del.kind === 'ruled' && 'cache' in del.requirement).toBe(false)
    const comment = resolveAction([root, leaf], 'tickets.comment')
    expect(comment).toMatchObject({
      kind: 'ruled',
      requirement: { rates: [{ max: 20, per: 60, path: 'acme/support', rule: 'tickets.comment' }], actors: ['b', 'c'] },
    })
    expect(comment.kind === 'ruled' && 'cache' in comment.requirement).toBe(false)
  })

  it('intersects actors to none when two levels list different clients', () => {
    const other = { path: 'acme/support/x', rules: rules([{ name: 'tickets.read', class: 'read', actors: ['c'] }]) }
    expect(resolveAction([root, leaf, other], 'tickets.read')).toMatchObject({ requirement: { actors: [] } })
  })

  it('lets a task declare what every declaring level covers', () => {
    expect(allowsIntent([root, leaf], 'tickets.read')).toBe(true)
    expect(allowsIntent([root, leaf], 'tickets.*')).toBe(false)
    expect(allowsIntent([root], 'tickets.*')).toBe(true)
    expect(allowsIntent([root, leaf], 'billing.read')).toBe(false)
    expect(allowsIntent([], 'anything.*')).toBe(true)
  })
})
