import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { counts, useDatabase } from '../support/database.ts'
import { accessToken, clientCredentials, exchange, expectRejection } from '../support/oauth.ts'
import { useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)

describe('the lineage write is part of issuance', () => {
  it('returns no token (503) when the lineage row cannot be written', async () => {
    await sql`create function refuse_lineage() returns trigger language plpgsql as $$
      begin raise exception 'lineage store refuses writes'; end $$`.execute(t.db)
    await sql`create trigger refuse_lineage before insert on issued_tokens
      for each row execute function refuse_lineage()`.execute(t.db)
    try {
      const before = await counts(t.db)
      const response = await clientCredentials(server.url, 'agent-one', { resource: 'https://tickets.test/' })
      expect(response.headers.get('retry-after')).toBe('5')
      await expectRejection(response, {
        status: 503,
        error: 'temporarily_unavailable',
        error_description: 'the authorization server is temporarily unavailable, retry later',
      })
      expect(await counts(t.db)).toEqual(before)
    } finally {
      await sql`drop trigger refuse_lineage on issued_tokens`.execute(t.db)
    }
    const recovered = await clientCredentials(server.url, 'agent-one', { resource: 'https://tickets.test/' })
    expect(recovered.status).toBe(200)
  })
})

describe('the lineage row and the decision record of an exchange commit together', () => {
  const rows = async () => {
    const [tokens, decisions, audit] = await Promise.all(
      (['issued_tokens', 'decisions', 'audit_events'] as const).map(async (table) =>
        Number(
          (
            await t.db
              .selectFrom(table)
              .select((eb) => eb.fn.countAll<string>().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        ),
      ),
    )
    return { tokens, decisions, audit }
  }

  it.each([
    ['the lineage row', 'issued_tokens'],
    ['the decision record', 'decisions'],
  ])('returns no token (503), no decision id and writes nothing when %s cannot be written', async (_, table) => {
    const subject = await accessToken(server.url, 'alice-app', { scope: 'tickets:read' })
    await sql`create or replace function refuse_write() returns trigger language plpgsql as $$
      begin raise exception 'store refuses writes'; end $$`.execute(t.db)
    await sql`create trigger refuse_write before insert on ${sql.table(table)}
      for each row execute function refuse_write()`.execute(t.db)
    try {
      const before = await rows()
      const response = await exchange(server.url, 'agent-one', {
        subject_token: subject,
        resource: 'https://tickets.test/',
        scope: 'tickets:read',
      })
      expect(response.headers.get('retry-after')).toBe('5')
      expect(response.headers.get('x-decision-id')).toBeNull()
      await expectRejection(response, {
        status: 503,
        error: 'temporarily_unavailable',
        error_description: 'the authorization server is temporarily unavailable, retry later',
      })
      expect(await rows()).toEqual(before)
    } finally {
      await sql`drop trigger refuse_write on ${sql.table(table)}`.execute(t.db)
    }
    const recovered = await exchange(server.url, 'agent-one', {
      subject_token: subject,
      resource: 'https://tickets.test/',
      scope: 'tickets:read',
    })
    expect(recovered.status).toBe(200)
    expect(recovered.headers.get('x-decision-id')).toEqual(expect.any(String))
  })
})
