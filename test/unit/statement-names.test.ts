// Which SQL texts run prepared, under which name, and the bound of the set (db/statement-names.ts).
import { describe, expect, it } from 'vitest'
import { statementNames } from '../../src/db/statement-names.ts'

describe('statementNames', () => {
  it('gives each distinct text one stable name', () => {
    const names = statementNames(10, () => {})
    const a = 'select * from "tasks" where "task_id" = $1'
    const b = 'update "tasks" set "outcome" = $1 where "task_id" = $2'
    expect([names.nameOf(a), names.nameOf(b), names.nameOf(a), names.nameOf(b)]).toEqual(['m1', 'm2', 'm1', 'm2'])
    expect(names.size).toBe(2)
  })

  it.each([
    'select 1',
    ' \n  SELECT "name" from "issuers"',
    'insert into "decisions" ("decision_id") values ($1)',
    'with t as (select 1) select * from t',
    'delete from "oidc_payloads" where "id" = $1',
    'values (1)',
  ])('names a plannable statement: %s', (text) => {
    expect(statementNames(10, () => {}).nameOf(text)).toBe('m1')
  })

  it.each([
    'begin',
    'commit',
    'rollback',
    'start transaction isolation level serializable',
    'savepoint "sp"',
    'release savepoint "sp"',
    'set local lock_timeout = 100',
    'create trigger t before insert on tasks for each row execute function f()',
    'drop trigger t on tasks',
    'selection', // a word that only starts like a keyword
    'select 1; select 2', // several statements cannot be prepared
  ])('leaves unnamed what a plan cache cannot help: %s', (text) => {
    const names = statementNames(10, () => {})
    expect(names.nameOf(text)).toBeUndefined()
    expect(names.size).toBe(0)
  })

  it('names no more than the bound, reports it once, and keeps the names it gave', () => {
    const full: number[] = []
    const names = statementNames(2, (limit) => full.push(limit))
    const texts = ['select $1::int', 'select $1::text', 'select $1::uuid', 'select $1::date']
    expect([...texts, ...texts].map((text) => names.nameOf(text))).toEqual([
      'm1',
      'm2',
      undefined,
      undefined,
      'm1',
      'm2',
      undefined,
      undefined,
    ])
    expect(names.size).toBe(2)
    expect(full).toEqual([2])
  })
})
