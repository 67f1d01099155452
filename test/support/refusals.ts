// Everything a refusal must and must not do, checked in one place (security-anchors Part 0): the exact
// answer, nothing issued or created, and a decision record with the precise reason only where one is due.
import type { Kysely } from 'kysely'
import { expect } from 'vitest'
import type { DB } from '../../src/db/schema.ts'
import { counts, writtenRows } from './database.ts'
import { expectRejection } from './oauth.ts'
import type { Case, Send } from './requests.ts'

export interface Expected {
  status: number
  error: string
  error_description: string
  /** The challenge a 401 carries. */
  wwwAuthenticate?: string
  /**
   * The reason of the deny decision recorded (named by X-Decision-Id, with its audit event); without one,
   * nothing at all is written.
   */
  reason?: string
  detail?: string | null
}

/** A refusal as data: what differs from a valid request, and the answer it gets. */
export interface Refusal {
  name: string
  overrides: Case
  expected: Expected
}

/** Rows for it.each(…)('refuses %s'): %s prints the whole name, where $name would truncate it. */
export const titled = (refusals: readonly Refusal[]): Array<[string, Refusal]> => refusals.map((r) => [r.name, r])

const rows = async (db: Kysely<DB>) => ({ ...(await counts(db)), ...(await writtenRows(db)) })

/** Sends the request (built beforehand, so counting starts at the request itself) and checks the refusal. */
export async function expectRefused(db: Kysely<DB>, send: Send, expected: Expected): Promise<void> {
  const before = await rows(db)
  const response = await send()
  const decisionId = response.headers.get('x-decision-id')
  await expectRejection(response, expected)
  if (expected.wwwAuthenticate !== undefined) {
    expect(response.headers.get('www-authenticate')).toBe(expected.wwwAuthenticate)
  }
  if (expected.reason === undefined) {
    expect(decisionId).toBeNull()
    expect(await rows(db)).toEqual(before)
    return
  }
  // One decision record and its audit event; nothing else.
  expect(await rows(db)).toEqual({
    ...before,
    decisions: Number(before.decisions) + 1,
    audit_events: Number(before.audit_events) + 1,
  })
  expect(decisionId).toBeTruthy()
  const record = await db
    .selectFrom('decisions')
    .select(['result', 'reason', 'detail', 'issued_jti', 'granted_scope'])
    .where('decision_id', '=', decisionId as string)
    .executeTakeFirstOrThrow()
  expect(record).toEqual({
    result: 'deny',
    reason: expected.reason,
    detail: expected.detail === undefined ? record.detail : expected.detail,
    issued_jti: null,
    granted_scope: null,
  })
  const audit = await db
    .selectFrom('audit_events')
    .select('type')
    .where('decision_id', '=', decisionId as string)
    .execute()
  expect(audit).toEqual([{ type: 'token_exchange.denied' }])
}
