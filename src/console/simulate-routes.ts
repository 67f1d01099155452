// The simulate form: its fields become the admin API's simulation request (admin/simulate.ts, the same core
// function as `POST /admin/v1/policy-paths:simulate`), candidate documents are checked at their line and
// column first. Nothing is issued or written. The editor's "Simulate with this document" lands here with the
// document as the candidate and nothing run yet.
import { simulateRequest } from '../admin/simulate.ts'
import { parseYamlDocuments } from '../documents/yaml.ts'
import type { ConsoleFinding } from './policy-views.ts'
import type { ConsoleDeps, PageHandler } from './routes.ts'
import { SIMULATE_FIELDS, type SimulateForm, simulatePage } from './simulate-view.ts'

const words = (text: string) => text.split(/\s+/).filter(Boolean)

export function simulateRoutes(deps: ConsoleDeps): Record<string, PageHandler> {
  const simulation = {
    db: deps.db,
    catalog: deps.catalog,
    clock: deps.clock,
    issuer: deps.rp.issuer,
    validateDocuments: deps.validateDocuments,
  }
  return {
    async 'GET /admin/simulate'(ctx, person) {
      const form = Object.fromEntries(SIMULATE_FIELDS.map((name) => [name, ''])) as SimulateForm
      ctx.body = simulatePage(
        { ...person.frame, section: 'simulate' },
        { form: { ...form, grant_type: 'token-exchange' }, findings: [] },
      )
    },

    async 'POST /admin/simulate'(ctx, person, params) {
      const form = Object.fromEntries(
        SIMULATE_FIELDS.map((name) => [name, typeof params[name] === 'string' ? (params[name] as string) : '']),
      ) as SimulateForm
      // From the editor: its document becomes the candidate, the request is still to be described.
      if (params.intent === 'simulate' && typeof params.yaml === 'string') {
        form.candidate = params.yaml
        form.grant_type = 'token-exchange'
        ctx.body = simulatePage({ ...person.frame, section: 'simulate' }, { form, findings: [] })
        return
      }
      const render = (status: number, view: { findings?: ConsoleFinding[]; problem?: string; result?: unknown }) => {
        ctx.status = status
        ctx.body = simulatePage(
          { ...person.frame, section: 'simulate' },
          { form, findings: view.findings ?? [], problem: view.problem, result: view.result as never },
        )
      }
      let candidate: unknown[] | undefined
      if (form.candidate.trim() !== '') {
        const errors = (await deps.validateDocuments(form.candidate)).filter((f) => f.severity === 'error')
        if (errors.length > 0) return render(422, { findings: errors, problem: 'The candidate documents have errors.' })
        candidate = parseYamlDocuments(form.candidate)
      }
      let subject: unknown
      if (form.subject.trim() !== '') {
        const parsed = safeParse(form.subject)
        if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value))
          return render(400, { problem: 'The subject token claims must be one JSON or YAML object.' })
        subject = parsed.value
      }
      const request = {
        client_id: form.client_id.trim(),
        resource: words(form.resource),
        grant_type: form.grant_type,
        ...(subject ? { subject } : {}),
        ...(words(form.actor_chain).length ? { actor_chain: words(form.actor_chain) } : {}),
        ...(form.scope.trim() ? { scope: form.scope.trim() } : {}),
        ...(form.task.trim() ? { task: form.task.trim() } : {}),
        ...(form.action.trim() ? { action: form.action.trim() } : {}),
      }
      const outcome = await simulateRequest(simulation, { request, ...(candidate ? { candidate } : {}) })
      if ('problem' in outcome) {
        const { status, detail, findings } = outcome.problem
        return render(status, {
          problem: `${detail[0]?.toUpperCase()}${detail.slice(1)}.`,
          findings: (findings ?? []) as ConsoleFinding[],
        })
      }
      render(200, { result: outcome.simulation })
    },
  }
}

function safeParse(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    const documents = parseYamlDocuments(text)
    return documents.length === 1 ? { ok: true, value: documents[0] } : { ok: false }
  } catch {
    return { ok: false }
  }
}
