import { describe, expect, it } from 'vitest'
import { diffDocuments, diffSpecs, lineDiff } from '../../../src/policy/diff.ts'
import { PolicyPathDocument, PolicyPathSpec } from '../../../src/policy/schema.ts'

const spec = (value: unknown) => PolicyPathSpec.parse(value)
const texts = (before: unknown, after: unknown) =>
  diffSpecs(before === undefined ? undefined : spec(before), spec(after)).map((c) => [c.text, c.broadening])

describe('diffSpecs', () => {
  it('says what changed in an admin’s words and marks what broadens', () => {
    expect(
      texts(
        {
          scopes: ['tickets:read'],
          tokenLifetime: '5m',
          delegation: { actors: ['support-agent'], maxDepth: 2 },
          bindings: [{ client: 'a', resource: 'https://t/', grantType: 'client_credentials' }],
        },
        {
          scopes: ['tickets:read', 'tickets:write'],
          tokenLifetime: '15m',
          delegation: { actors: ['support-agent', 'triage-subagent'], maxDepth: 1, mode: 'either' },
          bindings: [],
        },
      ),
    ).toEqual([
      ['removes binding a → https://t/ (client_credentials): no path ceiling is left for it', true],
      ['adds scope tickets:write', true],
      ['raises tokenLifetime 5m → 15m', true],
      ['allows impersonation', true],
      ['allows actor triage-subagent', true],
      ['lowers maxDepth 2 → 1', false],
    ])
  })

  it('treats a dropped ceiling or requirement as broadening, an added one as narrowing', () => {
    expect(texts({ scopes: ['a'], task: { required: true }, requireDpop: true }, {})).toEqual([
      ['removes the scope list (no longer limits scopes)', true],
      ['no longer requires a task', true],
      ['no longer requires DPoP', true],
    ])
    expect(texts({}, { scopes: ['a'], requireDpop: true })).toEqual([
      ['limits scopes to a', false],
      ['requires DPoP', false],
    ])
    expect(texts({}, { subjectTokens: { holders: ['alice-app'] } })).toEqual([['adds holder alice-app', true]])
    // An unbound exchange is refused; an unbound client_credentials or authorization_code has no ceiling left.
    const binding = (grantType: string) => ({ bindings: [{ client: 'a', resource: 'https://t/', grantType }] })
    expect(texts(binding('urn:ietf:params:oauth:grant-type:token-exchange'), {})).toEqual([
      ['removes binding a → https://t/ (urn:ietf:params:oauth:grant-type:token-exchange)', false],
    ])
    expect(texts(binding('authorization_code'), {})).toEqual([
      ['removes binding a → https://t/ (authorization_code): no path ceiling is left for it', true],
    ])
  })

  it('reads action rules: new actions, weaker approvals, rates, caches and required scopes', () => {
    const before = {
      actions: [
        { name: 'tickets.read', class: 'read' },
        {
          name: 'tickets.delete',
          class: 'destructive',
          scopes: ['tickets:write'],
          approval: 'delegator',
          task: 'required',
        },
        { name: 'tickets.comment', class: 'write', rate: { max: 10, per: '1m' } },
      ],
    }
    const after = {
      actions: [
        { name: 'tickets.read', class: 'read', cache: '10s' },
        { name: 'tickets.delete', class: 'destructive' },
        { name: 'tickets.comment', class: 'write', rate: { max: 20, per: '1m' } },
        { name: 'tickets.close', class: 'write' },
      ],
    }
    expect(texts(before, after)).toEqual([
      ['allows action tickets.close', true],
      ['caches allows of tickets.read for 10s', true],
      ['no longer requires scope tickets:write for tickets.delete', true],
      ['no longer requires a task for tickets.delete', true],
      ["no longer requires the delegator's approval for tickets.delete", true],
      ['raises the rate of tickets.comment 10 per 1m → 20 per 1m', true],
    ])
    expect(texts(before, {})).toEqual([['removes its action rules (actions are left to scope alone)', true]])
  })

  it('finds nothing between equal specs, and everything of a new path', () => {
    expect(texts({ scopes: ['a'] }, { scopes: ['a'] })).toEqual([])
    expect(texts(undefined, { scopes: ['a'] })).toEqual([['limits scopes to a', false]])
  })
})

describe('diffDocuments', () => {
  it('adds metadata changes, never broadening', () => {
    const doc = (description: string) =>
      PolicyPathDocument.parse({
        apiVersion: 'mandate/v1',
        kind: 'PolicyPath',
        metadata: { name: 'p', description },
        spec: {},
      })
    expect(diffDocuments(doc('a'), doc('b'))).toEqual([
      { field: '/metadata/description', text: 'changes description', broadening: false },
    ])
  })
})

describe('lineDiff', () => {
  it('keeps common lines and marks removed and added ones', () => {
    expect(lineDiff('a\nb\nc', 'a\nc\nd')).toBe('  a\n- b\n  c\n+ d')
  })
})
