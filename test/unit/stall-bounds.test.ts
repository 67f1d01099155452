// The pure parts of the stall bounds: which database errors are outages (503) and which are bugs
// (500), the pg options one MANDATE_DATABASE_TIMEOUT becomes, and the clock-skew estimate.
import { describe, expect, it } from 'vitest'
import { sessionBounds } from '../../src/db/bounds.ts'
import { isDatabaseUnavailable } from '../../src/db/outage.ts'
import { assessSkew } from '../../src/lib/clock-skew.ts'

const refusal = (code: string) => Object.assign(new Error(`refused with ${code}`), { code })

describe('isDatabaseUnavailable', () => {
  it.each([
    ['08006', 'connection failure'],
    ['40001', 'serialization failure'],
    ['40P01', 'deadlock detected'],
    ['53100', 'disk full'],
    ['53300', 'too many connections'],
    ['54000', 'program limit exceeded'],
    ['55P03', 'lock_timeout'],
    ['55006', 'object in use'],
    ['57014', 'statement_timeout'],
    ['57P01', 'admin shutdown'],
    ['58030', 'I/O error'],
    ['3D000', 'database does not exist'],
    ['25P03', 'idle_in_transaction_session_timeout'],
  ])('%s (%s) is an outage: 503', (code) => {
    expect(isDatabaseUnavailable(refusal(code))).toBe(true)
    expect(isDatabaseUnavailable(new Error('wrapped', { cause: refusal(code) }))).toBe(true)
  })

  it.each([
    ['22001', 'string data right truncation'],
    ['23505', 'unique violation'],
    ['23503', 'foreign key violation'],
    ['25P02', 'in failed transaction'],
    ['42P01', 'undefined table'],
    ['42703', 'undefined column'],
    ['P0001', 'raise exception (the audit trigger)'],
    ['XX000', 'internal error'],
  ])('%s (%s) is a bug: 500', (code) => {
    expect(isDatabaseUnavailable(refusal(code))).toBe(false)
  })

  it.each([
    ['Query read timeout'],
    ['Connection terminated unexpectedly'],
    ['Connection terminated due to connection timeout'],
    ['timeout exceeded when trying to connect'],
    ['Client has encountered a connection error and is not queryable'],
  ])('pg client error "%s" is an outage', (message) => {
    expect(isDatabaseUnavailable(new Error(message))).toBe(true)
  })

  it('a network errno is an outage, an error of our own code is not', () => {
    expect(isDatabaseUnavailable(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(true)
    expect(isDatabaseUnavailable(new TypeError('Cannot read properties of undefined'))).toBe(false)
  })
})

describe('sessionBounds', () => {
  it.each([
    [2, { acquire: 2000, query: 2000, server: 1500, idle: 2000 }],
    [1, { acquire: 1000, query: 1000, server: 750, idle: 1000 }],
    [30, { acquire: 30000, query: 30000, server: 22500, idle: 30000 }],
  ])('%ss: the client gives up at the bound, Postgres cancels at three quarters of it', (seconds, expected) => {
    const bounds = sessionBounds(seconds)
    expect({
      acquire: bounds.connectionTimeoutMillis,
      query: bounds.query_timeout,
      server: bounds.statement_timeout,
      idle: bounds.idle_in_transaction_session_timeout,
    }).toEqual(expected)
    expect(bounds.lock_timeout).toBe(expected.server)
    expect(bounds.keepAlive).toBe(true)
  })
})

describe('assessSkew', () => {
  const at = (seconds: number) => seconds * 1000
  it.each([
    ['agreeing clocks', { sentAt: 1000, receivedAt: 1000, databaseAt: at(1000.5) }, 0, false],
    ['the database 10 s ahead, tolerance 15 s', { sentAt: 1000, receivedAt: 1000, databaseAt: at(1010.5) }, 10, false],
    ['the database 1 h behind', { sentAt: 5000, receivedAt: 5000, databaseAt: at(1400.5) }, -3600, true],
    ['the process 1 h behind', { sentAt: 1000, receivedAt: 1000, databaseAt: at(4600.5) }, 3600, true],
  ])('%s', (_name, sample, offset, beyond) => {
    const skew = assessSkew(sample, 15)
    expect(skew.offset).toBeCloseTo(offset)
    expect(skew.beyond).toBe(beyond)
  })

  it('is beyond the tolerance only when it is whatever the round trip hid', () => {
    // 16 s apart by the middle of a 4 s round trip: it could be 13.5 s, so not beyond 15 s.
    expect(assessSkew({ sentAt: 1000, receivedAt: 1004, databaseAt: at(1018.5) }, 15)).toEqual({
      offset: 16,
      uncertainty: 2.5,
      beyond: false,
    })
    expect(assessSkew({ sentAt: 1000, receivedAt: 1000, databaseAt: at(1016.5) }, 15).beyond).toBe(true)
  })
})
