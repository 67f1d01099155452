// The in-process view of signing keys: re-read from Postgres on NOTIFY and on a timer (keys are
// configuration-like, so caching them is allowed; token state never is). Private keys open here only.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import type { JWK } from 'jose'
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import { type Clock, toEpoch } from '../lib/clock.ts'
import { open } from './envelope.ts'
import { type KeyStatus, keyStatuses } from './lifecycle.ts'
import { lastExpiryByKid, listSigningKeys } from './store.ts'

interface LoadedKey {
  kid: string
  activatesAt: number
  createdAt: number
  publicJwk: JWK
  publicKey: KeyObject
  privateKey?: KeyObject
}

export interface KeyRingDeps {
  db: Kysely<DB>
  masterKeys: readonly Buffer[]
  clock: Clock
  /** Seconds a retired key stays published beyond its last token (clock tolerance + refresh lag). */
  grace: number
  log: { error(fields: object, msg: string): void }
}

export class KeyRing {
  #keys = new Map<string, LoadedKey>()
  #lastExpiry = new Map<string, number>()
  #problems: string[] = []
  #lastMissRefresh = 0
  #loaded = false

  readonly deps: KeyRingDeps

  constructor(deps: KeyRingDeps) {
    this.deps = deps
  }

  async refresh(): Promise<void> {
    const rows = await listSigningKeys(this.deps.db)
    const keys = new Map<string, LoadedKey>()
    const problems: string[] = []
    for (const row of rows) {
      const publicJwk = row.public_jwk as JWK
      const loaded: LoadedKey = {
        kid: row.kid,
        activatesAt: toEpoch(row.activates_at),
        createdAt: toEpoch(row.created_at),
        publicJwk,
        publicKey: createPublicKey({ key: publicJwk as never, format: 'jwk' }),
      }
      try {
        const privateJwk = JSON.parse(open(row.private_jwk_sealed, this.deps.masterKeys, row.kid))
        loaded.privateKey = createPrivateKey({ key: privateJwk, format: 'jwk' })
      } catch (error) {
        problems.push((error as Error).message)
        this.deps.log.error({ err: error, kid: row.kid }, 'signing key cannot be opened with MANDATE_MASTER_KEY')
      }
      keys.set(row.kid, loaded)
    }
    const signedWith = [...keys.values()].filter((key) => key.activatesAt <= this.deps.clock.now()).map((k) => k.kid)
    const lastExpiry = await lastExpiryByKid(this.deps.db, signedWith)
    this.#keys = keys
    this.#lastExpiry = new Map([...lastExpiry].map(([kid, date]) => [kid, toEpoch(date)]))
    this.#problems = problems
    this.#loaded = true
  }

  statuses(): KeyStatus[] {
    return keyStatuses([...this.#keys.values()], this.#lastExpiry, this.deps.clock.now(), this.deps.grace)
  }

  /** Why the ring cannot sign, or [] when it can (feeds /health/ready). */
  problems(): string[] {
    if (!this.#loaded) return ['signing keys not loaded yet']
    const active = this.#active()
    if (!active) return ['no active signing key', ...this.#problems]
    if (!active.privateKey) return [`active signing key ${active.kid} cannot be opened`, ...this.#problems]
    return []
  }

  /** The key that signs now. Throws when there is none (an outage of configuration, never silent). */
  signingKey(): { kid: string; privateKey: KeyObject; publicKey: KeyObject } {
    const active = this.#active()
    if (!active?.privateKey) throw new Error(`no usable signing key: ${this.problems().join('; ')}`)
    return { kid: active.kid, privateKey: active.privateKey, publicKey: active.publicKey }
  }

  /** Private key of a key that may sign now or just did (the header's kid, read back at signing). */
  privateKeyFor(kid: string): KeyObject | undefined {
    const status = this.statuses().find((s) => s.kid === kid)
    return status && status.state !== 'removed' ? this.#keys.get(kid)?.privateKey : undefined
  }

  /** RFC 7517 JWK Set of every published key: pending, active and retained retired keys. */
  jwks(): { keys: JWK[] } {
    const published = new Set(
      this.statuses()
        .filter((s) => s.state !== 'removed')
        .map((s) => s.kid),
    )
    return { keys: [...this.#keys.values()].filter((k) => published.has(k.kid)).map((k) => k.publicJwk) }
  }

  /** Public key to verify one of our tokens; re-reads the database once (rate-limited) on a miss. */
  async verificationKey(kid: string): Promise<KeyObject | undefined> {
    const found = this.#published(kid)
    if (found) return found
    const now = this.deps.clock.now()
    if (now - this.#lastMissRefresh < 5) return undefined
    this.#lastMissRefresh = now
    await this.refresh()
    return this.#published(kid)
  }

  #published(kid: string): KeyObject | undefined {
    const status = this.statuses().find((s) => s.kid === kid)
    return status && status.state !== 'removed' ? this.#keys.get(kid)?.publicKey : undefined
  }

  #active(): LoadedKey | undefined {
    const active = this.statuses().find((s) => s.state === 'active')
    return active && this.#keys.get(active.kid)
  }
}
