import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { counts, useDatabase } from '../support/database.ts'
import { clientCredentials, expectRejection } from '../support/oauth.ts'
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
