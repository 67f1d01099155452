// oidc-provider's storage, over Postgres: clients from the catalog of `clients`, our JWT access tokens from the
// lineage table (read-time activity), and every other artefact as JSON in oidc_payloads.
import type { Kysely, Selectable } from 'kysely'
import { type Adapter, type AdapterPayload, errors, Provider } from 'oidc-provider'
import type { ClientRow } from '../clients/store.ts'
import type { CatalogSource } from '../catalog/source.ts'
import type { DB, OidcPayloadsTable } from '../db/schema.ts'
import { type Clock, toDate, toEpoch } from '../lib/clock.ts'
import { CLIENT_CREDENTIALS } from '../oauth/protocol.ts'
import {
  findActiveToken,
  type IssuedToken,
  type IssuedTokenWrite,
  revokeGrantTokens,
  revokeToken,
} from '../lineage/tokens.ts'
import { failClosed } from './errors.ts'
import { noteConsumed, noteMinted } from './give-back.ts'
import { isUnverifiedStandIn, isVerifiedInRequest } from './jwt-bridge.ts'

export interface AdapterDeps {
  db: Kysely<DB>
  /** Clients come from the request's catalog (src/catalog/). */
  catalog: CatalogSource
  clock: Clock
  clientMetadata(row: ClientRow): AdapterPayload
  onRevoked(token: IssuedToken): Promise<void>
  /** Every token of a grant was revoked (a refresh token or code used twice, a logout): the audit trail. */
  onGrantRevoked(grantId: string, tokens: IssuedToken[]): Promise<void>
  /** Writes the lineage row of an opaque (userinfo) access token before its value leaves. */
  recordOpaque(row: IssuedTokenWrite): Promise<void>
  /** The audience recorded for opaque access tokens: they are good only at userinfo. */
  userinfoAudience: string
  /** The signing key of the moment: an opaque token's row names it like every other row (kid is a key). */
  currentKid(): string
}

export function adapterFactory(deps: AdapterDeps): (name: string) => Adapter {
  return (name) => {
    if (name === 'Client') return clientAdapter(deps)
    if (name === 'AccessToken' || name === 'ClientCredentials') return tokenAdapter(name, deps)
    if (name === 'RefreshToken' || name === 'AuthorizationCode') return usedOnceAdapter(name, deps)
    return payloadAdapter(name, deps)
  }
}

const readOnly = (what: string) => async () => {
  throw new Error(`${what} are managed with \`mandate apply\`, not through oidc-provider`)
}

function clientAdapter(deps: AdapterDeps): Adapter {
  return {
    async find(id) {
      // A disabled client is unknown to oidc-provider: its authentication fails (invalid_client).
      const row = await failClosed(async () => (await deps.catalog.current()).enabledClient(id))
      return row && deps.clientMetadata(row)
    },
    upsert: readOnly('clients'),
    destroy: readOnly('clients'),
    consume: readOnly('clients'),
    findByUid: async () => undefined,
    findByUserCode: async () => undefined,
    revokeByGrantId: async () => {},
  }
}

// Introspection looks a token up as AccessToken and ClientCredentials in parallel; both share one read,
// begun as soon as the JWT bridge verified the token (prefetchActiveToken), so it overlaps client
// authentication instead of following it. Begun after the request arrived: a revocation or completion
// that returned before is seen, as zero-delay revocation requires.
const lookups = new WeakMap<object, Map<string, Promise<IssuedToken | undefined>>>()

function findActiveOnce(
  deps: Pick<AdapterDeps, 'db' | 'clock'>,
  jti: string,
  ctx: object | undefined = Provider.ctx,
): Promise<IssuedToken | undefined> {
  const read = () => failClosed(() => findActiveToken(deps.db, jti, toDate(deps.clock.now())))
  if (!ctx) return read()
  const memo = lookups.get(ctx) ?? new Map<string, Promise<IssuedToken | undefined>>()
  lookups.set(ctx, memo)
  const pending = memo.get(jti) ?? read()
  memo.set(jti, pending)
  return pending
}

/**
 * Starts this request's read of a token it presented and we verified (the JWT bridge), for the adapter
 * to find. An outage reaches whoever awaits the read (the endpoint, after client authentication).
 */
export function prefetchActiveToken(deps: Pick<AdapterDeps, 'db' | 'clock'>, ctx: object, jti: string): void {
  findActiveOnce(deps, jti, ctx).catch(() => {})
}

const modelOf = (row: Pick<IssuedToken, 'grant_type'>) =>
  row.grant_type === CLIENT_CREDENTIALS ? 'ClientCredentials' : 'AccessToken'

// Access tokens are RFC 9068 JWTs, resolved from lineage only for a jti that the JWT bridge verified in
// this very request, so neither a bare jti nor any other value can stand for one. The one exception is
// the access token oidc-provider mints for userinfo alone (no resource: RFC 8707 audiences are ours to
// give, userinfo takes no JWT): it is opaque, kept in oidc_payloads, and has a lineage row too, so a
// revoked grant, a disabled user or a disabled client ends it like any other.
function tokenAdapter(name: 'AccessToken' | 'ClientCredentials', deps: AdapterDeps): Adapter {
  const artefacts = payloadAdapter(name, deps)
  return {
    ...artefacts,
    async upsert(id, payload, expiresIn) {
      if (name !== 'AccessToken') throw new Error('client_credentials tokens are JWTs, never stored as payloads')
      await failClosed(() => deps.recordOpaque(opaqueRow(id, payload, expiresIn, deps)))
      await artefacts.upsert(id, payload, expiresIn)
    },
    async find(id) {
      const ctx = Provider.ctx
      if (!isVerifiedInRequest(ctx, id)) {
        if (name !== 'AccessToken' || isUnverifiedStandIn(id)) return undefined
        const [payload, row] = await Promise.all([artefacts.find(id), findActiveOnce(deps, id)])
        return payload && row ? payload : undefined
      }
      const row = await findActiveOnce(deps, id)
      if (!row || modelOf(row) !== name) return undefined
      const claims = row.claims as Record<string, unknown>
      return {
        jti: row.jti,
        kind: name,
        clientId: row.client_id,
        ...(name === 'AccessToken' ? { accountId: row.sub } : {}),
        aud: row.aud.length === 1 ? row.aud[0] : row.aud,
        ...(row.scope.length > 0 ? { scope: row.scope.join(' ') } : {}),
        iat: toEpoch(row.issued_at),
        exp: toEpoch(row.expires_at),
        gty: row.grant_type,
        ...(row.grant_id ? { grantId: row.grant_id } : {}),
        // RFC 9449 §6.2: introspection answers token_type DPoP and cnf.jkt for a bound token.
        ...(row.jkt ? { jkt: row.jkt } : {}),
        // RFC 7662 §2.2: sub is returned for client_credentials tokens too (it equals client_id).
        extra: name === 'ClientCredentials' ? { ...claims, sub: row.sub } : claims,
      } as AdapterPayload
    },
    async destroy(id) {
      const now = toDate(deps.clock.now())
      const row = await failClosed(async () => {
        const found = await findActiveToken(deps.db, id, now)
        return (await revokeToken(deps.db, id, now)) ? found : undefined
      })
      if (name === 'AccessToken') await artefacts.destroy(id)
      if (row) await failClosed(() => deps.onRevoked(row))
    },
    // A grant revoked (a code or refresh token used twice, a logout, RFC 7009 revocation of a refresh
    // token): every access token of it, and at read time everything exchanged from them.
    async revokeByGrantId(grantId) {
      const revoked = await failClosed(() => revokeGrantTokens(deps.db, grantId, toDate(deps.clock.now())))
      await artefacts.revokeByGrantId(grantId)
      if (revoked.length > 0) await failClosed(() => deps.onGrantRevoked(grantId, revoked))
    },
  }
}

function opaqueRow(
  id: string,
  payload: AdapterPayload,
  expiresIn: number | undefined,
  deps: AdapterDeps,
): IssuedTokenWrite {
  const iat = payload.iat ?? deps.clock.now()
  return {
    jti: id,
    kid: deps.currentKid(),
    grant_type: String(payload.gty ?? 'authorization_code')
      .split(' ')
      .at(-1) as string,
    client_id: String(payload.clientId),
    sub: String(payload.accountId),
    aud: [deps.userinfoAudience],
    scope: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
    issued_at: toDate(iat),
    expires_at: toDate(payload.exp ?? iat + (expiresIn ?? 0)),
    parent_jti: null,
    ancestors: [],
    claims: {},
    grant_id: payload.grantId ?? null,
    jkt: payload.jkt ?? null,
  }
}

// RFC 6749 §4.1.2 and §10.4 / OAuth 2.1 §4.3.1: a code or a rotated refresh token is used once. oidc-provider
// checks `consumed` and then consumes, two steps: two concurrent uses would both pass. Here the consume is
// one conditional UPDATE, and losing it is a reuse: the whole grant is revoked, as oidc-provider does for a
// reuse it sees, and the request fails. A request refused after it consumed gives the value back (give-back.ts).
function usedOnceAdapter(model: 'RefreshToken' | 'AuthorizationCode', deps: AdapterDeps): Adapter {
  const artefacts = payloadAdapter(model, deps)
  return {
    ...artefacts,
    // Introspection and revocation look a token up as every model at once: a JWT we verified (or one we
    // could not) is no code or refresh token, so no query is spent on it.
    find: (id) =>
      isVerifiedInRequest(Provider.ctx, id) || isUnverifiedStandIn(id)
        ? Promise.resolve(undefined)
        : artefacts.find(id),
    async upsert(id, payload, expiresIn) {
      await artefacts.upsert(id, payload, expiresIn)
      if (model === 'RefreshToken') noteMinted(Provider.ctx, model, id)
    },
    async consume(id) {
      const now = toDate(deps.clock.now())
      const won = await failClosed(() =>
        deps.db
          .updateTable('oidc_payloads')
          .set({ consumed_at: now })
          .where('model', '=', model)
          .where('id', '=', id)
          .where('consumed_at', 'is', null)
          .returning('grant_id')
          .executeTakeFirst(),
      )
      if (won) return noteConsumed(Provider.ctx, model, id, now)
      const row = await failClosed(() =>
        deps.db
          .selectFrom('oidc_payloads')
          .select('grant_id')
          .where('model', '=', model)
          .where('id', '=', id)
          .executeTakeFirst(),
      )
      const grantId = row?.grant_id
      if (grantId) await revokeWholeGrant(grantId)
      throw new errors.InvalidGrant(
        model === 'RefreshToken' ? 'refresh token already used' : 'authorization code already used',
      )
    },
  }

  async function revokeWholeGrant(grantId: string): Promise<void> {
    const revoked = await failClosed(() => revokeGrantTokens(deps.db, grantId, toDate(deps.clock.now())))
    await failClosed(() =>
      deps.db
        .deleteFrom('oidc_payloads')
        .where((eb) =>
          eb.or([eb('grant_id', '=', grantId), eb.and([eb('model', '=', 'Grant'), eb('id', '=', grantId)])]),
        )
        .execute(),
    )
    await failClosed(() => deps.onGrantRevoked(grantId, revoked))
  }
}

function payloadAdapter(model: string, deps: AdapterDeps): Adapter {
  const { db } = deps
  const now = () => toDate(deps.clock.now())
  const live = () =>
    db
      .selectFrom('oidc_payloads')
      .select(['payload', 'consumed_at'])
      .where('model', '=', model)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now())]))
  const unpack = (row: Pick<Selectable<OidcPayloadsTable>, 'payload' | 'consumed_at'> | undefined) =>
    row &&
    ({
      ...(row.payload as AdapterPayload),
      ...(row.consumed_at ? { consumed: toEpoch(row.consumed_at) } : {}),
    } as AdapterPayload)

  return {
    async upsert(id, payload, expiresIn) {
      const values = {
        payload: JSON.stringify(payload),
        grant_id: payload.grantId ?? null,
        user_code: payload.userCode ?? null,
        uid: payload.uid ?? null,
        expires_at: expiresIn ? toDate(deps.clock.now() + expiresIn) : null,
      }
      await failClosed(() =>
        db
          .insertInto('oidc_payloads')
          .values({ model, id, ...values })
          .onConflict((oc) => oc.columns(['model', 'id']).doUpdateSet(values))
          .execute(),
      )
    },
    find: (id) => failClosed(() => live().where('id', '=', id).executeTakeFirst()).then(unpack),
    findByUid: (uid) => failClosed(() => live().where('uid', '=', uid).executeTakeFirst()).then(unpack),
    findByUserCode: (code) => failClosed(() => live().where('user_code', '=', code).executeTakeFirst()).then(unpack),
    async consume(id) {
      await failClosed(() =>
        db
          .updateTable('oidc_payloads')
          .set({ consumed_at: now() })
          .where('model', '=', model)
          .where('id', '=', id)
          .execute(),
      )
    },
    async destroy(id) {
      await failClosed(() => db.deleteFrom('oidc_payloads').where('model', '=', model).where('id', '=', id).execute())
    },
    async revokeByGrantId(grantId) {
      await failClosed(() => db.deleteFrom('oidc_payloads').where('grant_id', '=', grantId).execute())
    },
  }
}
