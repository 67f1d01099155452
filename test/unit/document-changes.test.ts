import { describe, expect, it } from 'vitest'
import { documentChanges } from '../../src/documents/changes.ts'

describe('documentChanges', () => {
  it('names added, removed and changed fields, list items one by one', () => {
    const before = { metadata: { name: 'r', description: 'old' }, spec: { scopes: ['a', 'b'], lifetime: '5m' } }
    const after = { metadata: { name: 'r' }, spec: { scopes: ['b', 'c'], lifetime: '10m', webhook: 'https://x/' } }
    expect(documentChanges(before, after)).toEqual([
      'removes metadata.description',
      'changes spec.lifetime 5m → 10m',
      'adds spec.scopes c',
      'removes spec.scopes a',
      'adds spec.webhook https://x/',
    ])
  })

  it('says nothing for equal documents, whatever their key order', () => {
    expect(documentChanges({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 })).toEqual([])
  })

  it('never writes the value of a secret or password field', () => {
    const changes = documentChanges(
      { spec: { login: { clientId: 'c', clientSecret: 'old-secret' } } },
      { spec: { login: { clientId: 'c', clientSecret: 'new-secret' }, passwordHash: '$argon2id$x' } },
    )
    expect(changes).toEqual(['changes spec.login.clientSecret', 'adds spec.passwordHash'])
    expect(changes.join(' ')).not.toMatch(/secret'|new-secret|argon2/)
  })

  it('names a changed object or a list of objects without their values', () => {
    expect(documentChanges({ spec: { jwks: { keys: [{ kty: 'EC' }] } } }, { spec: { jwks: { keys: [] } } })).toEqual([
      'changes spec.jwks.keys',
    ])
  })
})
