// `POST /admin/v1/policy-paths:simulate` (issue 13): the decision the live policy — or the live policy with
// candidate documents in place — makes for a described token request (simulation/simulate.ts: the grants' own
// decisions). Nothing is issued or written. Refusals are RFC 9457 problem details: a request that is not the
// contract is a 400, an invalid candidate a 422 with the same findings as validate and PUT.
import type { Context } from 'koa'
import type { Kysely } from 'kysely'
import type * as z from 'zod'
import type { CatalogSource } from '../catalog/source.ts'
import type { DB } from '../db/schema.ts'
import { readTask } from '../delegation/task-facts.ts'
import { bodyParams } from '../http/body-params.ts'
import { type Clock, toDate } from '../lib/clock.ts'
import { findActiveToken } from '../lineage/tokens.ts'
import { withCandidates } from '../simulation/candidates.ts'
import { SimulationRequest } from '../simulation/request.ts'
import { type Simulation, SimulationInputError, simulate } from '../simulation/simulate.ts'
import { readCandidates } from './candidates.ts'
import { type Problem, problem } from './problem.ts'

export interface SimulateDeps {
  db: Kysely<DB>
  catalog: CatalogSource
  clock: Clock
  issuer: string
  validateDocuments(text: string): Promise<Array<{ severity: string }>>
}

/** zod issues as findings, each at its JSON pointer in the body. */
export const issueFindings = (issues: readonly z.core.$ZodIssue[], under: string) =>
  issues.map((issue) => ({
    severity: 'error',
    code: 'schema',
    message: issue.message,
    path: [under, ...issue.path.map(String)].map((part) => `/${part}`).join(''),
  }))

export async function simulatePolicyPaths(ctx: Context, deps: SimulateDeps): Promise<void> {
  const { params, problem: malformed } = bodyParams(ctx)
  if (malformed || !ctx.is('application/json'))
    return problem(ctx, 400, 'Bad request', 'the body is a JSON object: {candidate?, request}')
  const unknown = Object.keys(params).filter((key) => key !== 'candidate' && key !== 'request')
  if (unknown.length > 0) return problem(ctx, 400, 'Bad request', `unknown member ${unknown.join(', ')}`)
  const outcome = await simulateRequest(deps, params)
  if ('problem' in outcome) {
    const { status, title, detail, findings } = outcome.problem
    return problem(ctx, status, title, detail, findings)
  }
  ctx.body = outcome.simulation
}

export type SimulateOutcome = { problem: Problem } | { simulation: Simulation & { candidates?: string[] } }

/** The one simulation, for the admin API and the console: {candidate?, request} decided, nothing written. */
export async function simulateRequest(
  deps: SimulateDeps,
  params: { candidate?: unknown; request?: unknown },
): Promise<SimulateOutcome> {
  const parsed = SimulationRequest.safeParse(params.request)
  if (!parsed.success)
    return {
      problem: {
        status: 400,
        title: 'Bad request',
        detail: 'request is not a simulation request',
        findings: issueFindings(parsed.error.issues, 'request'),
      },
    }

  const read = await readCandidates(deps.validateDocuments, params.candidate, { min: 0, max: 20 })
  if ('problem' in read) return read
  const documents = read.documents

  const now = deps.clock.now()
  const catalog = withCandidates(await deps.catalog.current(), documents)
  try {
    const simulation = await simulate(parsed.data, {
      catalog,
      issuer: deps.issuer,
      now,
      readTask: (taskId) => readTask(deps.db, taskId, now),
      readToken: (jti) => findActiveToken(deps.db, jti, toDate(now)),
    })
    return {
      simulation: {
        ...simulation,
        ...(documents.length > 0 ? { candidates: documents.map((d) => d.metadata.name) } : {}),
      },
    }
  } catch (error) {
    if (error instanceof SimulationInputError)
      return { problem: { status: 400, title: 'Bad request', detail: error.message } }
    throw error
  }
}
