// Candidate PolicyPath documents in a request (simulate, replay): the same checks as validate, PUT and apply,
// on the documents as JSON (line and column are those of their pretty form, one YAML document each). Each
// candidate stands in for the live path of its name (a name given twice is refused, as apply refuses it).
import { PolicyPathDocument } from '../policy/schema.ts'
import type { Problem } from './problem.ts'

export async function readCandidates(
  validateDocuments: (text: string) => Promise<Array<{ severity: string }>>,
  candidate: unknown,
  limits: { min: number; max: number },
): Promise<{ documents: PolicyPathDocument[] } | { problem: Problem }> {
  const documents = candidate === undefined ? [] : Array.isArray(candidate) ? candidate : [candidate]
  if (
    documents.length < limits.min ||
    documents.length > limits.max ||
    documents.some((doc) => typeof doc !== 'object' || doc === null || Array.isArray(doc))
  )
    return {
      problem: {
        status: 400,
        title: 'Bad request',
        detail: `candidate is a PolicyPath document or a list of ${limits.min} to ${limits.max}`,
      },
    }
  if (documents.length === 0) return { documents: [] }
  const text = documents.map((doc) => JSON.stringify(doc, null, 2)).join('\n---\n')
  const errors = (await validateDocuments(text)).filter((f) => f.severity === 'error')
  if (errors.length > 0)
    return { problem: { status: 422, title: 'Invalid document', detail: 'the candidate has errors', findings: errors } }
  const parsed = documents.map((doc) => PolicyPathDocument.safeParse(doc))
  const notPaths = parsed.flatMap((result, index) =>
    result.success
      ? []
      : [{ severity: 'error', code: 'not_a_policy_path', message: 'only PolicyPath documents', path: `/${index}` }],
  )
  if (notPaths.length > 0)
    return {
      problem: { status: 422, title: 'Invalid document', detail: 'the candidate has errors', findings: notPaths },
    }
  return { documents: parsed.flatMap((result) => (result.success ? [result.data] : [])) }
}
