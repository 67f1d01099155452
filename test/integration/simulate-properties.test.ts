// Property (fast-check), issue 13: over generated policy path documents and requests, the simulation's answer —
// allow or deny, the reason, the scope, the act claim, the lifetime within a second, the path and version — is
// what the real grant decides for the same facts. Each run simulates the candidate documents, saves them through
// the admin API (PUT, confirmed), simulates the live policy again, then asks the real token endpoint with real
// tokens (a person's or an app's, delegated or not, with or without an actor token) and reads its decision
// record. Counters make sure both outcomes, several reasons and an intermediary's allow were reached.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { decodeJwt, type JWTPayload } from 'jose'
import { sql } from 'kysely'
import { beforeAll, describe, expect, it } from 'vitest'
import { applyDocuments } from '../../src/manifests/apply.ts'
import { useDatabase } from '../support/database.ts'
import { personToken } from '../support/idp.ts'
import { ACCESS_TOKEN, accessToken, exchanged, post } from '../support/oauth.ts'
import { TEST_APPLY, useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)
let admin: string

const TICKETS = 'https://tickets.test/'
const TE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const SCOPES = ['tickets:read', 'tickets:write']
const SECRET = { 'sim-agent': 'sim-agent-secret-0123456789', 'sim-sub': 'sim-sub-secret-01234567890' }

/** Two clients of our own, and the paths the runs rewrite: acme/sim above acme/sim/{agent,sub,cc}. */
const DOCUMENTS = `
apiVersion: mandate/v1
kind: Client
metadata: { name: sim-agent }
spec:
  profile: agent
  secret: ${SECRET['sim-agent']}
  grantTypes: [client_credentials, ${TE}]
  scopes: [tickets:read, tickets:write]
---
apiVersion: mandate/v1
kind: Client
metadata: { name: sim-sub }
spec:
  profile: agent
  secret: ${SECRET['sim-sub']}
  grantTypes: [${TE}]
  scopes: [tickets:read]
---
apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: acme/sim }
spec: {}
---
apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: acme/sim/agent }
spec:
  bindings: [{ client: sim-agent, resource: ${TICKETS}, grantType: ${TE} }]
---
apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: acme/sim/sub }
spec:
  bindings: [{ client: sim-sub, resource: ${TICKETS}, grantType: ${TE} }]
---
apiVersion: mandate/v1
kind: PolicyPath
metadata: { name: acme/sim/cc }
spec:
  bindings: [{ client: sim-agent, resource: ${TICKETS}, grantType: client_credentials }]
`

const BINDINGS: Record<string, Array<Record<string, string>>> = {
  'acme/sim': [],
  'acme/sim/agent': [{ client: 'sim-agent', resource: TICKETS, grantType: TE }],
  'acme/sim/sub': [{ client: 'sim-sub', resource: TICKETS, grantType: TE }],
  'acme/sim/cc': [{ client: 'sim-agent', resource: TICKETS, grantType: 'client_credentials' }],
}

const optional = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined })
const scopes = fc.subarray([...SCOPES, 'notes:read'])

/** Mostly absent (a level that does not constrain), sometimes one of the values, the wider ones more often. */
const sometimes = <T>(...values: T[]) =>
  fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: fc.constantFrom(...values) })
const defined = (record: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined))

const spec = fc
  .record({
    scopes: sometimes(SCOPES, SCOPES, ['tickets:read'], ['tickets:write'], [...SCOPES, 'notes:read'], []),
    tokenLifetime: sometimes('30s', '2m', '4m', '10m'),
    issuers: sometimes(['self', 'test-idp'], ['self', 'test-idp'], ['self'], ['test-idp']),
    holders: sometimes(['alice-app', 'agent-one', 'sim-agent'], ['alice-app', 'agent-one'], ['alice-app'], []),
    mode: sometimes('delegation', 'delegation', 'impersonation', 'either'),
    intermediaries: sometimes([{ client: 'sim-sub', actors: ['sim-agent'] }]),
    actors: sometimes(
      ['sim-agent', 'sim-sub', 'agent-one'],
      ['sim-agent', 'sim-sub', 'agent-one'],
      ['sim-agent', 'sim-sub'],
      ['sim-agent'],
    ),
    maxDepth: sometimes(1, 2, 3, 3),
    task: sometimes({ required: true }),
    requireDpop: sometimes(true),
  })
  .map(({ scopes, tokenLifetime, issuers, holders, mode, intermediaries, actors, maxDepth, task, requireDpop }) => {
    const subjectTokens = defined({ issuers, holders })
    const delegation = defined({ mode, intermediaries, actors, maxDepth })
    return defined({
      scopes,
      tokenLifetime,
      ...(Object.keys(subjectTokens).length > 0 ? { subjectTokens } : {}),
      ...(Object.keys(delegation).length > 0 ? { delegation } : {}),
      task,
      requireDpop,
    })
  })
// Requirements nobody can meet here (a task, a DPoP proof) are rare, so most runs reach the rules behind them.
const rarely = <T extends { task?: unknown; requireDpop?: unknown }>(s: T, keep: number): T => {
  const { task, requireDpop, ...rest } = s
  return {
    ...rest,
    ...(keep === 0 && task ? { task } : {}),
    ...(keep === 1 && requireDpop ? { requireDpop } : {}),
  } as T
}

const documentOf = (name: string, body: Record<string, unknown>) => ({
  apiVersion: 'mandate/v1',
  kind: 'PolicyPath',
  metadata: { name },
  spec: { bindings: BINDINGS[name], ...body },
})

const exchangeCase = fc.record({
  candidates: fc.record(
    {
      'acme/sim': spec,
      'acme/sim/agent': spec,
      'acme/sim/sub': spec,
    },
    { requiredKeys: [] },
  ),
  keep: fc.integer({ min: 0, max: 9 }),
  client: fc.constantFrom('sim-agent', 'sim-agent', 'sim-sub'),
  // The subject: alice-app's own token, a person's token of test-idp, or either delegated to agent-one first.
  subject: fc.constantFrom('own', 'own', 'person', 'person', 'person', 'own-via-agent-one', 'person-via-agent-one'),
  subjectScope: fc.subarray(SCOPES, { minLength: 1 }),
  subjectLifetime: fc.constantFrom(45, 200, 900),
  requested: optional(scopes),
  byAudience: fc.boolean(),
  // sim-agent's own token as actor_token: sim-sub presenting it acts as sim-agent (an intermediary).
  actorToken: fc.boolean(),
})

/** Always among the runs: sim-sub trusted to present sim-agent's token, and acting as sim-agent. */
const presenting: typeof exchangeCase extends fc.Arbitrary<infer T> ? T : never = {
  candidates: {
    'acme/sim': {},
    'acme/sim/sub': {
      delegation: { intermediaries: [{ client: 'sim-sub', actors: ['sim-agent'] }], actors: ['sim-agent', 'sim-sub'] },
    },
  },
  keep: 5,
  client: 'sim-sub',
  subject: 'person',
  subjectScope: SCOPES,
  subjectLifetime: 900,
  requested: undefined,
  byAudience: false,
  actorToken: true,
}

const ccCase = fc.record({
  candidate: spec,
  requested: scopes,
})

async function subjectToken(kind: string, scope: string[], lifetime: number): Promise<string> {
  const root = kind.startsWith('person')
    ? await personToken({ scope: scope.join(' '), expiresIn: lifetime })
    : await accessToken(server.url, 'alice-app', { scope: scope.join(' ') })
  if (!kind.endsWith('via-agent-one')) return root
  return exchanged(server.url, 'agent-one', { subject_token: root, resource: TICKETS })
}

async function simulate(body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${server.adminUrl}/admin/v1/policy-paths:simulate`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const json = (await response.json()) as Record<string, unknown>
  expect(response.status, JSON.stringify(json)).toBe(200)
  return json
}

/** Saves a document as an admin would: against the version read, broadening confirmed. */
async function save(document: { metadata: { name: string } }): Promise<void> {
  const url = `${server.adminUrl}/admin/v1/policy-paths/${document.metadata.name}`
  const current = await fetch(url, { headers: { authorization: `Bearer ${admin}` } })
  const response = await fetch(url, {
    method: 'PUT',
    headers: {
      authorization: `Bearer ${admin}`,
      'content-type': 'application/json',
      'if-match': current.headers.get('etag') as string,
    },
    body: JSON.stringify({ document, reason: 'property run', confirmBroadening: true }),
  })
  expect(response.status, await response.clone().text()).toBeLessThan(300)
}

const reasonOf = async (decisionId: string | null) =>
  (await sql<{ reason: string }>`select reason from decisions where decision_id = ${decisionId}`.execute(t.db)).rows[0]
    ?.reason

/** The decision as the simulation and the real grant both can state it. */
function decisionOf(simulation: Record<string, unknown>) {
  return {
    decision: simulation.decision,
    reason: simulation.reason,
    scope: simulation.scope === undefined ? undefined : [...(simulation.scope as string[])].sort(),
    act: simulation.act,
  }
}

/** The issued token and its decision, as the simulation states them. */
async function realDecision(response: Response) {
  const body = (await response.json()) as { access_token?: string; expires_in?: number }
  if (response.status !== 200) {
    return { outcome: { decision: 'deny', reason: await reasonOf(response.headers.get('x-decision-id')) } }
  }
  const claims = decodeJwt(body.access_token as string) as JWTPayload & { act?: unknown; policy_path?: string }
  return {
    outcome: {
      decision: 'allow',
      reason: 'allowed',
      scope: String(claims.scope).split(' ').sort(),
      act: claims.act,
    },
    claims,
  }
}

const tally = { allow: 0, deny: 0, presented: 0, reasons: new Set<string>() }
/** sim-agent's own client_credentials token, got before any run changes the paths above acme/sim/cc. */
let actorToken: string

beforeAll(async () => {
  admin = await accessToken(server.url, 'mandate-admin', { resource: 'urn:mandate:admin', scope: 'mandate:admin' })
  const folder = mkdtempSync(join(tmpdir(), 'mandate-simulate-'))
  writeFileSync(join(folder, 'simulation.yaml'), DOCUMENTS)
  const applied = await applyDocuments(t.db, [folder], TEST_APPLY)
  expect(applied.findings).toEqual([])
  const response = await post(
    `${server.url}/token`,
    { grant_type: 'client_credentials', resource: TICKETS, scope: 'tickets:read' },
    { clientId: 'sim-agent', secret: SECRET['sim-agent'] },
  )
  actorToken = ((await response.json()) as { access_token: string }).access_token
})

describe('simulation', () => {
  it('decides every token exchange as the real exchange does', { timeout: 240_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(exchangeCase, async (run) => {
        const documents = Object.entries(run.candidates).map(([name, body]) =>
          documentOf(name, rarely(body as Record<string, unknown>, run.keep)),
        )
        const subject = await subjectToken(run.subject, run.subjectScope, run.subjectLifetime)
        const request = {
          client_id: run.client,
          resource: run.byAudience ? 'tickets' : TICKETS,
          subject: decodeJwt(subject),
          ...(run.requested ? { scope: run.requested } : {}),
          ...(run.actorToken ? { actor_token: decodeJwt(actorToken) } : {}),
        }
        const candidate = await simulate({ candidate: documents, request })
        for (const document of documents) await save(document)
        const live = await simulate({ request })
        const response = await post(
          `${server.url}/token`,
          {
            grant_type: TE,
            subject_token_type: ACCESS_TOKEN,
            subject_token: subject,
            ...(run.byAudience ? { audience: 'tickets' } : { resource: TICKETS }),
            ...(run.requested ? { scope: run.requested.join(' ') } : {}),
            ...(run.actorToken ? { actor_token: actorToken, actor_token_type: ACCESS_TOKEN } : {}),
          },
          { clientId: run.client, secret: SECRET[run.client as keyof typeof SECRET] },
        )
        const real = await realDecision(response)
        const context = JSON.stringify({ run, live })
        expect(decisionOf(live), context).toEqual(real.outcome)
        expect(decisionOf(candidate), context).toEqual(decisionOf(live))
        expect(candidate.policy, context).toMatchObject({ path: (live.policy as { path: string }).path })
        if (real.claims) {
          expect(Math.abs((real.claims.exp as number) - (live.expires_at as number)), context).toBeLessThanOrEqual(1)
          expect(Math.abs((candidate.lifetime as number) - (live.lifetime as number)), context).toBeLessThanOrEqual(1)
          expect(live.policy, context).toMatchObject({
            path: real.claims.policy_path,
            version: (real.claims as { policy_version?: number }).policy_version,
          })
        }
        tally[live.decision as 'allow' | 'deny'] += 1
        if (run.actorToken && run.client === 'sim-sub' && live.decision === 'allow') tally.presented += 1
        tally.reasons.add(live.reason as string)
      }),
      { numRuns: Number(process.env.SIM_RUNS ?? 80), examples: [[presenting]] },
    )
    // Not vacuous: both outcomes, and several of the rules, decided some runs.
    expect(tally.allow, JSON.stringify([...tally.reasons])).toBeGreaterThanOrEqual(5)
    expect(tally.deny).toBeGreaterThanOrEqual(5)
    expect(tally.reasons.size, JSON.stringify([...tally.reasons])).toBeGreaterThanOrEqual(4)
    expect(tally.presented).toBeGreaterThanOrEqual(1)
  })

  it('decides client_credentials as the real token endpoint does', { timeout: 120_000 }, async () => {
    const outcomes = new Set<string>()
    // The first property leaves acme/sim as its last run saved it: start from a level that constrains nothing.
    await save(documentOf('acme/sim', {}))
    await fc.assert(
      fc.asyncProperty(ccCase, async ({ candidate: body, requested }) => {
        const document = documentOf('acme/sim/cc', rarely(body as Record<string, unknown>, 2))
        const request = {
          client_id: 'sim-agent',
          resource: TICKETS,
          grant_type: 'client_credentials',
          scope: requested,
        }
        const candidate = await simulate({ candidate: document, request })
        await save(document)
        const live = await simulate({ request })
        const response = await post(
          `${server.url}/token`,
          {
            grant_type: 'client_credentials',
            resource: TICKETS,
            ...(requested.length ? { scope: requested.join(' ') } : {}),
          },
          { clientId: 'sim-agent', secret: SECRET['sim-agent'] },
        )
        const body2 = (await response.json()) as { access_token?: string; error?: string }
        const context = JSON.stringify({ requested, document, live, body2 })
        expect(decisionOf(candidate), context).toEqual(decisionOf(live))
        expect(response.status === 200 ? 'allow' : 'deny', context).toBe(live.decision)
        outcomes.add(live.decision as string)
        if (response.status !== 200) {
          // The token endpoint's public face of each reason (oidc/resource-indicators.ts).
          const errors: Record<string, string> = {
            'scope.not_allowed': 'invalid_scope',
            'request.dpop_required': 'invalid_dpop_proof',
          }
          expect(body2.error, context).toBe(errors[live.reason as string])
          return
        }
        const claims = decodeJwt(body2.access_token as string)
        expect(String(claims.scope).split(' ').sort(), context).toEqual(decisionOf(live).scope)
        expect(Math.abs((claims.exp as number) - (live.expires_at as number)), context).toBeLessThanOrEqual(1)
      }),
      { numRuns: 20 },
    )
    expect([...outcomes].sort()).toEqual(['allow', 'deny'])
  })
})
