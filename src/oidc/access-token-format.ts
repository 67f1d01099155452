// The single persistence point of every JWT access token: runs just before signing (oidc-provider
// formats.customizers.jwt), so if the lineage row cannot be written, no token leaves the server.
import type { AccessToken, ClientCredentials, KoaContextWithOIDC } from 'oidc-provider'
import { toDate } from '../lib/clock.ts'
import { CLIENT_CREDENTIALS } from '../oauth/protocol.ts'
import type { IssuedTokenWrite } from '../lineage/tokens.ts'
import { TemporarilyUnavailable } from './errors.ts'
import { IssuanceWithheld, takeIssuance } from './issuance.ts'

export interface AccessTokenFormatDeps {
  currentKid(): string
  record(row: IssuedTokenWrite): Promise<void>
  onIssued(row: IssuedTokenWrite): void
  log: { error(fields: object, msg: string): void }
}

type Structured = { header?: Record<string, unknown> | undefined; payload: Record<string, unknown> }

// RFC 9068 §2.2 claims live in their own columns; everything else is kept for introspection.
const standard = new Set([
  'jti',
  'sub',
  'iat',
  'exp',
  'scope',
  'client_id',
  'iss',
  'aud',
  'cnf',
  'authorization_details',
])

export function persistingCustomizer(deps: AccessTokenFormatDeps) {
  return async (_ctx: KoaContextWithOIDC, token: AccessToken | ClientCredentials, jwt: Structured): Promise<void> => {
    const { payload } = jwt
    const kid = deps.currentKid()
    jwt.header = { ...jwt.header, kid } // the row and the signature name the same key
    const taken = takeIssuance(token)
    const lineage = taken?.issuance
    if (lineage) payload.exp = Math.min(Number(payload.exp), lineage.notAfter)
    if (lineage && lineage.audiences.length > 1) payload.aud = lineage.audiences
    // RFC 9449 §6.1: the key a DPoP-bound token is bound to (oidc-provider writes cnf.jkt).
    const cnf = payload.cnf as { jkt?: unknown } | undefined
    const row: IssuedTokenWrite = {
      jti: String(payload.jti),
      kid,
      // oidc-provider appends each refresh to gty ("authorization_code refresh_token"): the last one issued this.
      grant_type:
        lineage?.grantType ??
        (token.kind === 'ClientCredentials' ? CLIENT_CREDENTIALS : (String(token.gty).split(' ').at(-1) as string)),
      client_id: String(payload.client_id),
      sub: String(payload.sub),
      aud: Array.isArray(payload.aud) ? payload.aud.map(String) : [String(payload.aud)],
      scope: typeof payload.scope === 'string' ? payload.scope.split(' ') : [],
      issued_at: toDate(Number(payload.iat)),
      expires_at: toDate(Number(payload.exp)),
      parent_jti: lineage?.parentJti ?? null,
      ancestors: lineage?.ancestors ?? [],
      claims: Object.fromEntries(Object.entries(payload).filter(([name]) => !standard.has(name))),
      jkt: typeof cnf?.jkt === 'string' ? cnf.jkt : null,
      // The sign-in grant (authorization_code, refresh_token): reusing one of its codes or refresh tokens ends all.
      grant_id: 'grantId' in token && typeof token.grantId === 'string' ? token.grantId : null,
      ...(typeof payload.policy_path === 'string'
        ? { policy_path: payload.policy_path, policy_version: Number(payload.policy_version) }
        : {}),
      ...lineage?.columns,
    }
    try {
      await (lineage?.record ?? deps.record)(row)
    } catch (error) {
      if (error instanceof IssuanceWithheld) throw error // the grant decided: no row, no token, no outage
      // Issue contract: no lineage row, no token. Whatever the cause, the client may retry.
      deps.log.error({ err: error, jti: row.jti, client_id: row.client_id }, 'lineage write failed; token withheld')
      throw new TemporarilyUnavailable({ cause: error })
    }
    taken?.written(row)
    deps.onIssued(row)
  }
}
