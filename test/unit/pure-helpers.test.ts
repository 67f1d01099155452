import { describe, expect, it } from 'vitest'
import { splitStatements } from '../../src/db/migrations.ts'
import { open, seal, SealedKeyError } from '../../src/keys/envelope.ts'
import { canonicalJson, contentHash } from '../../src/lib/canonical-json.ts'
import { formatDuration, parseDuration } from '../../src/lib/duration.ts'

describe('durations', () => {
  it.each([
    ['90s', 90],
    ['5m', 300],
    ['2h', 7200],
    ['1d', 86400],
  ])('parses %s', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds)
    expect(parseDuration(formatDuration(seconds))).toBe(seconds)
  })
  it.each(['', '5', 'm', '1.5h', '-1m', '5 minutes', '1w'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined()
  })
})

describe('splitStatements', () => {
  it('splits on top-level semicolons only', () => {
    const sql = `-- a; comment
create table a (x text default 'a;b');
comment on table a is 'it''s; fine';
create function f() returns trigger language plpgsql as $$ begin raise exception 'x;y'; end $$;
/* block; comment */ select 1`
    expect(splitStatements(sql)).toEqual([
      "-- a; comment\ncreate table a (x text default 'a;b')",
      "comment on table a is 'it''s; fine'",
      "create function f() returns trigger language plpgsql as $$ begin raise exception 'x;y'; end $$",
      '/* block; comment */ select 1',
    ])
  })
})

describe('the master-key envelope', () => {
  const first = Buffer.alloc(32, 1)
  const second = Buffer.alloc(32, 2)

  it('opens with any configured key and binds the sealed value to its owner', () => {
    const sealed = seal('secret jwk', [first, second], 'kid-1')
    expect(open(sealed, [second, first], 'kid-1')).toBe('secret jwk')
    expect(() => open(sealed, [first], 'kid-2')).toThrow(SealedKeyError)
    expect(() => open(sealed, [second], 'kid-1')).toThrow(/not configured/)
  })

  it('never seals to the same text twice', () => {
    expect(seal('x', [first], 'k')).not.toBe(seal('x', [first], 'k'))
  })
})

describe('canonicalJson', () => {
  it('ignores key order and undefined members', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 1, c: undefined }] })).toBe('{"a":[{"d":1}],"b":1}')
    expect(contentHash({ a: 1, b: 2 })).toBe(contentHash({ b: 2, a: 1 }))
  })
})
