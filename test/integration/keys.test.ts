import { createLocalJWKSet, jwtVerify } from 'jose'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createSigningKey } from '../../src/keys/store.ts'
import { useDatabase } from '../support/database.ts'
import { accessToken, introspect, kidOf } from '../support/oauth.ts'
import { TEST_MASTER_KEY, useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)
const masterKeys = [Buffer.from(TEST_MASTER_KEY, 'base64')]

afterEach(() => {
  vi.useRealTimers()
})

const jwks = async () => (await (await fetch(`${server.url}/jwks`)).json()) as { keys: Array<Record<string, string>> }

async function waitFor<T>(probe: () => Promise<T>, done: (value: T) => boolean, ms = 3000): Promise<T> {
  const until = Date.now() + ms
  for (;;) {
    const value = await probe()
    if (done(value) || Date.now() > until) return value
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

describe('signing keys', () => {
  it('publishes only public ES256 keys', async () => {
    const { keys } = await jwks()
    expect(keys.length).toBeGreaterThan(0)
    for (const key of keys) {
      expect(Object.keys(key).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'])
      expect(key).toMatchObject({ alg: 'ES256', kty: 'EC', crv: 'P-256', use: 'sig' })
    }
  })

  it('keeps private keys sealed at rest', async () => {
    const rows = await t.db.selectFrom('signing_keys').select(['kid', 'private_jwk_sealed']).execute()
    for (const row of rows) {
      expect(row.private_jwk_sealed).toMatch(/^v1\.[0-9a-f]{8}\./)
      expect(row.private_jwk_sealed).not.toContain('"d"')
    }
  })

  it('rotates: publish first, sign after the delay, keep the old key while its tokens live', async () => {
    const oldToken = await accessToken(server.url, 'agent-one')
    const oldKid = kidOf(oldToken)
    const activatesAt = new Date(Date.now() + 60_000)
    const { kid: newKid } = await createSigningKey(t.db, masterKeys, activatesAt)

    // Published before it signs: every process learns of it through NOTIFY (or its refresh timer).
    if (t.isPostgres) {
      const seen = await waitFor(jwks, (set) => set.keys.some((key) => key.kid === newKid))
      expect(seen.keys.map((key) => key.kid)).toContain(newKid)
    } else {
      await server.app.ring.refresh()
    }
    expect((await jwks()).keys.map((key) => key.kid).sort()).toEqual([oldKid, newKid].sort())
    const beforeActivation = await accessToken(server.url, 'agent-one')
    expect(kidOf(beforeActivation)).toBe(oldKid)

    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(activatesAt.getTime() + 1_000)
    const afterActivation = await accessToken(server.url, 'agent-one')
    expect(kidOf(afterActivation)).toBe(newKid)

    // Tokens signed by the retired key still verify and introspect.
    await server.app.ring.refresh()
    const set = createLocalJWKSet(await jwks())
    for (const token of [oldToken, beforeActivation, afterActivation]) {
      await expect(jwtVerify(token, set, { issuer: server.issuer, currentDate: new Date() })).resolves.toBeDefined()
      expect(await introspect(server.url, token)).toMatchObject({ active: true })
    }

    // Once every token the old key signed has expired (plus grace), it leaves the JWKS.
    vi.setSystemTime(activatesAt.getTime() + 1_000 + 300_000 + 60_000)
    await server.app.ring.refresh()
    expect((await jwks()).keys.map((key) => key.kid)).toEqual([newKid])
  })
})
