// The admin API (admin port): lineage, decisions, approvals, policy paths (read, validate, change, simulate),
// clients, resources, issuers and users (entity-routes.ts) and audit. Every request needs a bearer
// access token Mandate issued for the admin resource with the mandate:admin scope (RFC 6750).
import Koa, { type Context } from 'koa'
import type { Kysely } from 'kysely'
import { ADMIN_SCOPE } from '../clients/schema.ts'
import type { CatalogSource } from '../catalog/source.ts'
import { boundKey } from '../dpop/bound-key.ts'
import { claimProof } from '../dpop/claim.ts'
import { type DpopProof, DpopProblem } from '../dpop/proof.ts'
import { type DpopSettings, readDpopProof } from '../dpop/read-proof.ts'
import type { DB } from '../db/schema.ts'
import { isUuid } from '../lib/uuid.ts'
import { presentedToken } from '../http/authorization.ts'
import { bufferedBody } from '../http/bounded-body.ts'
import { HttpError } from '../http/http-error.ts'
import type { Route } from '../http/routes.ts'
import type { OurAccessToken } from '../keys/verify-access-token.ts'
import { type Clock, toDate } from '../lib/clock.ts'
import { findActiveToken } from '../lineage/tokens.ts'
import { safeDecode } from '../lib/safe-decode.ts'
import { presentApproval } from '../approvals/present.ts'
import { APPROVAL_STATES, type ApprovalState, findApproval, listApprovals } from '../approvals/store.ts'
import { ADMIN_RESOURCE } from './bootstrap.ts'
import {
  currentPolicyPath,
  diffPolicyPath,
  effectivePolicyPath,
  listPolicyPaths,
  policyPathVersion,
  policyPathVersions,
} from './policy-paths.ts'
import { activatePolicyPathVersion, changePolicyPath } from './policy-change.ts'
import { replayPolicyPaths } from './policy-replay.ts'
import { ENTITY_ROUTES, entityRoute } from './entity-routes.ts'
import { deletePolicyPath } from './policy-retire.ts'
import { getDecision, listAudit, listDecisions, taskDetail, tokenLineage } from './queries.ts'
import { simulatePolicyPaths } from './simulate.ts'

export interface AdminDeps {
  db: Kysely<DB>
  catalog: CatalogSource
  clock: Clock
  verifyAccessToken(token: string): Promise<OurAccessToken | undefined>
  dpop: DpopSettings
  /** Documents validated, nothing written (manifests/validate.ts, wired by the composition root). */
  validateDocuments(text: string): Promise<Array<{ severity: string }>>
  /** Our issuer URL (a simulated subject token with this iss is ours). */
  issuer: string
}

const unauthorized = () => new HttpError('admin_authentication_required')

/** The admin routes, guarded in app.ts before authentication: an unknown path is a 404 for everyone, not a 401. */
export const ADMIN_ROUTES: readonly Route[] = [
  { path: /^\/admin\/v1\/tasks\/[^/]+$/, methods: ['GET'] },
  { path: /^\/admin\/v1\/tokens\/[^/]+\/lineage$/, methods: ['GET'] },
  { path: /^\/admin\/v1\/decisions(\/[^/]+)?$/, methods: ['GET'] },
  { path: '/admin/v1/audit', methods: ['GET'] },
  { path: /^\/admin\/v1\/approvals(\/[^/]+)?$/, methods: ['GET'] },
  { path: '/admin/v1/policy-paths:validate', methods: ['POST'] },
  { path: '/admin/v1/policy-paths:replay', methods: ['POST'] },
  { path: '/admin/v1/policy-paths:simulate', methods: ['POST'] },
  { path: /^\/admin\/v1\/policy-paths\/.+\/versions\/\d{1,9}:activate$/, methods: ['POST'] },
  { path: /^\/admin\/v1\/policy-paths(\/.+)?$/, methods: ['GET', 'PUT', 'DELETE'] },
  ...ENTITY_ROUTES,
]

export function adminApp(deps: AdminDeps): Koa {
  const app = new Koa()
  app.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store')
    const presented = presentedToken(ctx.get('authorization'))
    const scheme = presented?.scheme
    const token = presented?.token as string
    const payload = presented ? await deps.verifyAccessToken(token) : undefined
    const audiences = payload ? (Array.isArray(payload.aud) ? payload.aud : [payload.aud]) : []
    const row =
      payload &&
      audiences.includes(ADMIN_RESOURCE) &&
      (payload.scope ?? '').split(' ').includes(ADMIN_SCOPE) &&
      (await findActiveToken(deps.db, payload.jti, toDate(deps.clock.now())))
    const admin =
      row &&
      // Rights are read now, not when the token was issued: a client that lost mandate:admin (or was
      // removed or disabled) loses the admin API at once, not when its token expires.
      (await deps.catalog.current()).enabledClient(row.client_id)?.scopes.includes(ADMIN_SCOPE)
    if (!admin || !row || !payload) throw unauthorized()
    const jkt = boundKey(row, payload) ?? null
    // RFC 9449 §7.1: a bound token only with the DPoP scheme and a proof of its key; an unbound one
    // only as a bearer token.
    if ((jkt !== null) !== (scheme === 'dpop')) throw unauthorized()
    if (jkt !== null) await proveKey(ctx, deps, token, row.client_id, jkt)
    ctx.state.clientId = row.client_id
    await next()
  })
  app.use(async (ctx) => {
    if (ctx.method === 'POST' && ctx.path === '/admin/v1/policy-paths:replay') return replayPolicyPaths(ctx, deps)
    if (await entityRoute(ctx, deps)) return
    const change = ctx.method === 'PUT' ? /^\/admin\/v1\/policy-paths\/(.+)$/.exec(ctx.path) : null
    if (change) return changePolicyPath(ctx, deps, safeDecode(change[1] as string))
    const retire = ctx.method === 'DELETE' ? /^\/admin\/v1\/policy-paths\/(.+)$/.exec(ctx.path) : null
    if (retire) return deletePolicyPath(ctx, deps, safeDecode(retire[1] as string))
    const activate =
      ctx.method === 'POST'
        ? /^\/admin\/v1\/policy-paths\/(.+)\/versions\/([1-9]\d{0,8}):activate$/.exec(ctx.path)
        : null
    if (activate) return activatePolicyPathVersion(ctx, deps, safeDecode(activate[1] as string), Number(activate[2]))
    if (ctx.method === 'POST' && ctx.path === '/admin/v1/policy-paths:simulate') return simulatePolicyPaths(ctx, deps)
    ctx.body = await route(ctx)
  })
  return app

  /**
   * The DPoP proof of a bound admin token, or the 401 to answer. The admin port has no configured
   * external URL, so htu is checked against this request's own URL (method, path and ath bind the
   * proof to this request and this token; its jti is spent once).
   */
  async function proveKey(ctx: Context, d: AdminDeps, token: string, clientId: string, jkt: string) {
    const now = d.clock.now()
    let proof: DpopProof | undefined
    try {
      const url = `${ctx.protocol}://${ctx.host}${ctx.path}`
      proof = await readDpopProof(ctx, { url, now, accessToken: token }, d.dpop)
    } catch (error) {
      if (!(error instanceof DpopProblem)) throw error
      throw new HttpError(error.kind === 'invalid' ? 'admin_invalid_dpop_proof' : 'admin_use_dpop_nonce')
    }
    if (proof?.jkt !== jkt || !(await claimProof(d.db, clientId, proof, now))) throw unauthorized()
  }

  async function route(ctx: Context): Promise<unknown> {
    const now = toDate(deps.clock.now())
    const { path, query } = ctx
    const text = (name: string) =>
      typeof query[name] === 'string' && query[name] ? (query[name] as string) : undefined
    if (ctx.method === 'POST' && path === '/admin/v1/policy-paths:validate') {
      // The document as `mandate apply` reads it: YAML, or JSON (which is YAML).
      const text = bufferedBody(ctx)?.toString('utf8') ?? ''
      if (text.trim() === '') throw new HttpError('invalid_request', 'the body must be a YAML or JSON document')
      const findings = await deps.validateDocuments(text)
      return { valid: !findings.some((f) => f.severity === 'error'), findings }
    }
    if (ctx.method !== 'GET') throw new HttpError('not_found', 'route')
    let match = /^\/admin\/v1\/tasks\/([^/]+)$/.exec(path)
    if (match) {
      const detail = await taskDetail(deps.db, safeDecode(match[1] as string), now)
      if (!detail) throw new HttpError('not_found', 'task')
      return detail
    }
    match = /^\/admin\/v1\/tokens\/([^/]+)\/lineage$/.exec(path)
    if (match) {
      const lineage = await tokenLineage(deps.db, safeDecode(match[1] as string), now)
      if (!lineage) throw new HttpError('not_found', 'token')
      return lineage
    }
    match = /^\/admin\/v1\/decisions\/([^/]+)$/.exec(path)
    if (match) {
      const decision = await getDecision(deps.db, safeDecode(match[1] as string))
      if (!decision) throw new HttpError('not_found', 'decision')
      return decision
    }
    const limit = Math.min(Math.max(Number(text('limit') ?? 100) || 100, 1), 1000)
    const since = text('since')
    const sinceDate = since ? new Date(since) : undefined
    if (sinceDate && Number.isNaN(sinceDate.getTime())) {
      throw new HttpError('invalid_request', 'since must be an ISO 8601 time')
    }
    if (path === '/admin/v1/decisions') {
      const taskId = text('task_id')
      if (taskId && !isUuid(taskId)) return { decisions: [] }
      const filter = {
        task_id: taskId,
        client_id: text('client_id'),
        subject: text('subject'),
        since: sinceDate,
        limit,
      }
      return { decisions: await listDecisions(deps.db, filter) }
    }
    match = /^\/admin\/v1\/approvals\/([^/]+)$/.exec(path)
    if (match) {
      const id = safeDecode(match[1] as string)
      const approval = isUuid(id) ? await findApproval(deps.db, id) : undefined
      if (!approval) throw new HttpError('not_found', 'approval')
      return presentApproval(approval, now)
    }
    if (path === '/admin/v1/approvals') {
      const status = text('status')
      if (status && !APPROVAL_STATES.includes(status as ApprovalState))
        throw new HttpError('invalid_request', `status must be one of ${APPROVAL_STATES.join(', ')}`)
      const taskId = text('task_id')
      if (taskId && !isUuid(taskId)) return { approvals: [] }
      const rows = await listApprovals(deps.db, {
        status: status ? { state: status as ApprovalState, now } : undefined,
        taskId,
        delegator: text('delegator'),
        limit,
      })
      return { approvals: rows.map((row) => presentApproval(row, now)) }
    }
    if (path === '/admin/v1/policy-paths')
      return { policy_paths: await listPolicyPaths(deps.db, { retired: query.retired === 'true' }) }
    match = /^\/admin\/v1\/policy-paths\/(.+)$/.exec(path)
    if (match) return policyPath(ctx, match[1] as string)
    if (path === '/admin/v1/audit') {
      return {
        events: await listAudit(deps.db, { since: sinceDate, type: text('type'), task_id: text('task_id'), limit }),
      }
    }
    throw new HttpError('not_found', 'route')
  }

  /**
   * `{name}`, `{name}/versions`, `{name}/versions/{v}`, `{name}/effective`, `{name}/diff?from=&to=`. A name
   * holds "/", so the suffix is read first; a path whose last segment is one of those is named with %2F.
   */
  async function policyPath(ctx: Context, rest: string): Promise<unknown> {
    const [, raw = '', suffix, version] = /^(.+?)(?:\/(versions|effective|diff)(?:\/([^/]+))?)?$/.exec(rest) ?? []
    const name = safeDecode(raw)
    if (suffix === 'diff' && version === undefined) {
      const number = (key: string) => {
        const value = ctx.query[key]
        if (value === undefined) return undefined
        if (typeof value !== 'string' || !/^\d{1,9}$/.test(value))
          throw new HttpError('invalid_request', `${key} must be a version number`)
        return Number(value)
      }
      const diff = await diffPolicyPath(deps.db, name, { from: number('from'), to: number('to') })
      if (!diff) throw new HttpError('not_found', 'policy path version')
      return diff
    }
    if (suffix === 'effective') {
      const effective = await effectivePolicyPath(deps.db, name)
      if (!effective) throw new HttpError('not_found', 'policy path')
      return effective
    }
    if (suffix === 'versions' && version === undefined) {
      const versions = await policyPathVersions(deps.db, name)
      if (versions.length === 0) throw new HttpError('not_found', 'policy path')
      return { name, versions }
    }
    if (suffix === 'versions') {
      const number = /^[1-9]\d{0,8}$/.test(version as string) ? Number(version) : undefined
      const found = number === undefined ? undefined : await policyPathVersion(deps.db, name, number)
      if (!found) throw new HttpError('not_found', 'policy path version')
      return { name, ...found }
    }
    const current = await currentPolicyPath(deps.db, name)
    if (!current) throw new HttpError('not_found', 'policy path')
    // RFC 9110 §8.8.3: the version is the entity tag, for If-Match on the change that follows.
    ctx.set('ETag', `"${current.version}"`)
    return current.document
  }
}
