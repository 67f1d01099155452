// `policy-paths/tests/*.test.yaml` (issue 13, `mandate policy test`): cases of facts and the decision expected
// of them, checked against a simulation. One schema for the file; what a case expects is compared field by
// field, and only the fields it names. Pure.
import { isDeepStrictEqual } from 'node:util'
import * as z from 'zod'
import { SimulationRequest } from './request.ts'
import type { Simulation } from './simulate.ts'

const Decision = z.enum(['allow', 'deny'])

export const PolicyTestCase = z.strictObject({
  name: z.string().min(1).max(200),
  request: SimulationRequest,
  expect: z.strictObject({
    decision: Decision,
    /** 'allowed' or a denial reason (docs/policy-paths.md lists them). */
    reason: z.string().min(1).optional(),
    /** The exact scope issued, in any order. */
    scope: z.union([z.string(), z.array(z.string())]).optional(),
    /** The act claim issued (null: none, as for impersonation). */
    act: z.unknown().optional(),
    /** Seconds the token would live. */
    lifetime: z.number().int().min(0).optional(),
    /** The path that decides. */
    policy_path: z.string().min(1).optional(),
    evaluation: z.strictObject({ decision: Decision, reason: z.string().min(1).optional() }).optional(),
  }),
})
export type PolicyTestCase = z.output<typeof PolicyTestCase>

export const PolicyTestFile = z.strictObject({
  description: z.string().optional(),
  cases: z.array(PolicyTestCase).min(1).max(1000),
})
export type PolicyTestFile = z.output<typeof PolicyTestFile>

const sorted = (scope: string | readonly string[]) =>
  (typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [...scope]).sort()

/** What differs from the expectation, one line each (none: the case passes). */
export function caseFailures(expected: PolicyTestCase['expect'], got: Simulation): string[] {
  const failures: string[] = []
  const differs = (field: string, want: unknown, have: unknown) => {
    if (!isDeepStrictEqual(want, have))
      failures.push(`${field}: expected ${JSON.stringify(want)}, got ${JSON.stringify(have ?? null)}`)
  }
  const why = got.detail ? ` (${got.reason}: ${got.detail})` : ` (${got.reason})`
  if (expected.decision !== got.decision)
    failures.push(`decision: expected ${expected.decision}, got ${got.decision}${why}`)
  if (expected.reason !== undefined) differs('reason', expected.reason, got.reason)
  if (expected.scope !== undefined) differs('scope', sorted(expected.scope), got.scope && sorted(got.scope))
  if (expected.act !== undefined) differs('act', expected.act, got.act ?? null)
  if (expected.lifetime !== undefined) differs('lifetime', expected.lifetime, got.lifetime)
  if (expected.policy_path !== undefined) differs('policy_path', expected.policy_path, got.policy?.path)
  if (expected.evaluation) {
    differs('evaluation.decision', expected.evaluation.decision, got.evaluation?.decision)
    if (expected.evaluation.reason !== undefined)
      differs('evaluation.reason', expected.evaluation.reason, got.evaluation?.reason)
  }
  return failures
}
