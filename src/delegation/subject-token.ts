// Verifies the subject_token: one of our own JWT access tokens (signature, typ, issuer, expiry, and
// activity in lineage), or a JWT of a trusted foreign issuer. Any problem is Denied; outages propagate.
import { createHash } from 'node:crypto'
import { decodeJwt } from 'jose'
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import { type ForeignTokenDeps, verifyForeignToken } from '../issuers/verify.ts'
import { type OurAccessToken, verifyAccessToken, type VerifyDeps } from '../keys/verify-access-token.ts'
import { type Clock, toDate } from '../lib/clock.ts'
import { findActiveToken, type IssuedToken } from '../lineage/tokens.ts'
import type { OutboundFetch } from '../outbound/fetch.ts'
import { identityOnly, inNamespace } from '../policy/act-claim.ts'
import { ACCESS_TOKEN_TYPE } from '../oauth/protocol.ts'
import { SELF_ISSUER } from '../policy/schema.ts'
import { boundKey, jktOf } from '../dpop/bound-key.ts'
import type { SubjectFacts } from './decide.ts'
import { Denied } from './denied.ts'

export interface VerifiedSubject {
  facts: SubjectFacts
  /** Our own token's lineage row (its jti is the new token's parent). */
  row?: IssuedToken
  /** For a foreign token: its jti, or the SHA-256 of the token when it has none. */
  ref: string
  /** Who vouches for `sub`: the trusted issuer a delegation chain started from, or self. */
  origin: string
  taskId?: string
}

export interface TokenDeps extends VerifyDeps, ForeignTokenDeps {
  db: Kysely<DB>
  clock: Clock
  /** Fetches trusted issuers' JWKS under the outbound rules. */
  fetchOutbound: OutboundFetch
}

const scopeOf = (payload: Record<string, unknown>): string[] | undefined =>
  typeof payload.scope === 'string'
    ? payload.scope.split(' ').filter(Boolean)
    : Array.isArray(payload.scp)
      ? payload.scp.filter((s): s is string => typeof s === 'string')
      : undefined

/**
 * RFC 7800: a `cnf` we cannot check (an mTLS thumbprint, a bare key, a key URL): the token is bound to
 * something no request here can prove, so it is never accepted as a bearer token.
 */
const unprovable = (payload: Record<string, unknown>): boolean =>
  payload.cnf !== undefined &&
  (typeof payload.cnf !== 'object' ||
    payload.cnf === null ||
    Object.keys(payload.cnf).some((member) => member !== 'jkt'))

const mayActOf = (value: unknown): SubjectFacts['mayAct'] => {
  if (typeof value !== 'object' || value === null) return undefined
  const { sub, client_id, iss } = value as Record<string, unknown>
  return {
    ...(typeof sub === 'string' ? { sub } : {}),
    ...(typeof client_id === 'string' ? { client_id } : {}),
    ...(typeof iss === 'string' ? { iss } : {}),
  }
}

/** Our own token, verified and active in lineage; undefined for anything else. */
export async function verifyOwnActiveToken(
  token: string,
  deps: TokenDeps,
): Promise<{ payload: OurAccessToken; row: IssuedToken } | undefined> {
  const payload = await verifyAccessToken(token, deps)
  if (!payload) return undefined
  const row = await findActiveToken(deps.db, payload.jti, toDate(deps.clock.now()))
  return row ? { payload, row } : undefined
}

export async function verifySubject(token: string, declaredType: string, deps: TokenDeps): Promise<VerifiedSubject> {
  let issuer: unknown
  try {
    issuer = decodeJwt(token).iss
  } catch {
    throw new Denied('subject_token.invalid', 'not a JWT')
  }
  if (issuer === deps.issuer) {
    const own = await verifyOwnActiveToken(token, deps)
    if (!own)
      throw new Denied(
        'subject_token.invalid',
        'not active: bad signature, expired, revoked, revoked ancestor or unknown',
      )
    const { payload, row } = own
    const act = inNamespace(payload.act === undefined ? undefined : identityOnly(payload.act), undefined, deps.issuer)
    const jkt = boundKey(row, payload)
    const mayAct = mayActOf(payload.may_act)
    const scope = scopeOf(payload)
    return {
      facts: {
        issuer: SELF_ISSUER,
        origin: row.subject_issuer ?? SELF_ISSUER,
        tokenType: declaredType,
        sub: payload.sub,
        ...(scope ? { scope } : { scope: [] }),
        ...(act ? { act } : {}),
        ...(mayAct ? { mayAct } : {}),
        expiresAt: payload.exp,
        holder: payload.client_id,
        // Tokens written before lineage kept the binding still carry it in the JWT.
        ...(jkt ? { jkt } : {}),
        lineage: row,
      },
      row,
      ref: payload.jti,
      origin: row.subject_issuer ?? SELF_ISSUER,
      ...(typeof payload.task_id === 'string' ? { taskId: payload.task_id } : {}),
    }
  }

  const foreign = await verifyForeignToken(token, deps)
  if (!foreign) throw new Denied('subject_token.invalid', 'not from a trusted issuer, or failed verification')
  // RFC 9068 §4: an access token is typed at+jwt; declaring any other JWT an access token is refused.
  if (declaredType === ACCESS_TOKEN_TYPE && !/^(application\/)?at\+jwt$/i.test(foreign.typ ?? '')) {
    throw new Denied('subject_token.type_mismatch', `typ ${foreign.typ ?? '(none)'} declared as access_token`)
  }
  const { payload } = foreign
  if (unprovable(payload)) throw new Denied('subject_token.key_not_proven', 'a cnf other than jkt')
  if (payload.act !== undefined && identityOnly(payload.act) === undefined)
    throw new Denied('subject_token.invalid', 'malformed act')
  // The chain of a foreign token lives in its issuer's namespace: its actors are not our clients.
  const act = inNamespace(
    payload.act === undefined ? undefined : identityOnly(payload.act),
    foreign.payload.iss,
    deps.issuer,
  )
  const mayAct = mayActOf(payload.may_act)
  // Fail closed: no scope claim grants nothing, unless the Issuer document says otherwise.
  const scope = scopeOf(payload) ?? (foreign.tokensWithoutScope === 'policyCeiling' ? undefined : [])
  const jkt = jktOf(payload)
  return {
    facts: {
      issuer: foreign.issuerName,
      tokenType: declaredType,
      sub: payload.sub,
      ...(scope ? { scope } : {}),
      ...(act ? { act } : {}),
      ...(mayAct ? { mayAct } : {}),
      expiresAt: payload.exp,
      ...(jkt ? { jkt } : {}),
    },
    ref: typeof payload.jti === 'string' ? payload.jti : createHash('sha256').update(token).digest('base64url'),
    origin: foreign.issuerName,
  }
}
