// The simulate page: a token request described in a form (and, optionally, candidate documents in place of
// their paths), and the decision the grants would make, with what constrained it. Pure.
import { html } from '../pages/html.ts'
import type { Simulation } from '../simulation/simulate.ts'
import { consolePage, type Frame, notice } from './layout.ts'
import type { ConsoleFinding } from './policy-views.ts'

export const SIMULATE_FIELDS = [
  'grant_type',
  'client_id',
  'resource',
  'scope',
  'subject',
  'actor_chain',
  'task',
  'action',
  'candidate',
] as const
export type SimulateForm = Record<(typeof SIMULATE_FIELDS)[number], string>

export const GRANTS = [
  ['token-exchange', 'Token exchange (RFC 8693)'],
  ['client_credentials', 'Client credentials'],
] as const

export interface SimulateView {
  form: SimulateForm
  findings: ConsoleFinding[]
  problem?: string | undefined
  result?: (Simulation & { candidates?: string[] }) | undefined
}

const where = (f: ConsoleFinding) =>
  f.line
    ? `${f.path.startsWith('/request') ? '' : 'candidate '}line ${f.line}, column ${f.column ?? 1}`
    : f.path || 'the request'

function resultPanel(result: NonNullable<SimulateView['result']>) {
  const allowed = result.decision === 'allow'
  return html`<section class="box" aria-labelledby="result"><h2 id="result">Result: <span class="badge ${allowed ? 'allow' : 'deny'}">${result.decision}</span></h2>
<dl class="facts">
<dt>Reason</dt><dd><code>${result.reason}</code>${result.detail ? html` — ${result.detail}` : ''}</dd>
${result.scope ? html`<dt>Scope</dt><dd>${result.scope.length ? result.scope.join(' ') : 'none'}</dd>` : ''}
${result.lifetime !== undefined ? html`<dt>Lifetime</dt><dd>${result.lifetime} s</dd>` : ''}
${result.act ? html`<dt>act</dt><dd><code>${JSON.stringify(result.act)}</code></dd>` : ''}
${
  result.policy
    ? html`<dt>Policy path</dt><dd><a href="/admin/policy-path?name=${encodeURIComponent(result.policy.path)}">${result.policy.path}</a> version ${result.policy.version}</dd>`
    : ''
}
${result.candidates?.length ? html`<dt>Candidates in place</dt><dd>${result.candidates.join(', ')}</dd>` : ''}
</dl>
${
  result.constrained_by.length
    ? html`<h3>What constrained it</h3><ul>${result.constrained_by.map(
        (c) =>
          html`<li><code>${c.by}</code>${c.scope ? html`: removed ${c.scope.join(' ')}` : ''}${c.lifetime ? ' set the expiry' : ''}</li>`,
      )}</ul>`
    : ''
}
${
  result.evaluation
    ? html`<h3>Action ${result.evaluation.action}</h3><p><span class="badge ${result.evaluation.decision === 'allow' ? 'allow' : 'deny'}">${result.evaluation.decision}</span> ${result.evaluation.reason ?? ''} ${result.evaluation.detail ?? ''}${
        result.evaluation.requirement
          ? html` — class ${result.evaluation.requirement.class}${result.evaluation.requirement.approval ? ', needs approval' : ''}`
          : ''
      }</p>`
    : ''
}
</section>`
}

export function simulatePage(frame: Frame & { who: { username: string; csrf: string } }, view: SimulateView): string {
  const { form } = view
  const field = (name: keyof SimulateForm, label: string, hint?: string) =>
    html`<label for="${name}">${label}</label>${hint ? html`<p class="muted" id="${name}-hint">${hint}</p>` : ''}<input type="text" id="${name}" name="${name}" class="wide" value="${form[name]}" autocomplete="off"${hint ? html` aria-describedby="${name}-hint"` : ''}>`
  return consolePage(
    'Simulate',
    frame,
    html`<h1>Simulate a token request</h1>
<p class="muted">The decision the live policy — or the live policy with candidate documents in place — makes for a request described by its facts. Nothing is issued or written.</p>
${view.problem ? notice('error', view.problem) : ''}
${
  view.findings.length
    ? html`<div class="error" role="alert" id="findings"><ul class="findings">${view.findings.map(
        (f) =>
          html`<li><strong>${f.severity === 'error' ? 'Error' : 'Warning'}</strong>, ${where(f)}: ${f.message}</li>`,
      )}</ul></div>`
    : ''
}
${view.result ? resultPanel(view.result) : ''}
<form method="post" action="/admin/simulate">
<input type="hidden" name="csrf" value="${frame.who.csrf}">
<label for="grant_type">Grant type</label>
<select id="grant_type" name="grant_type">${GRANTS.map(
      ([value, label]) =>
        html`<option value="${value}"${form.grant_type === value ? html` selected` : ''}>${label}</option>`,
    )}</select>
${field('client_id', 'Client id')}
${field('resource', 'Resource', 'A resource URI or a Resource name; several separated by spaces.')}
${field('scope', 'Requested scope', 'Separated by spaces; empty asks for everything allowed.')}
<label for="subject">Subject token claims (token exchange)</label>
<p class="muted" id="subject-hint">JSON or YAML, for example {"sub": "alice", "scope": "tickets:read"}; a decoded JWT payload may be pasted as it is.</p>
<textarea id="subject" name="subject" class="short" spellcheck="false" aria-describedby="subject-hint">${form.subject}</textarea>
${field('actor_chain', 'Actor chain', 'Who acts, current first, separated by spaces (default: the client).')}
${field('task', 'Task id', 'A stored task, or empty.')}
${field('action', 'Action', 'Also decide this action for the token that would be issued.')}
<label for="candidate">Candidate documents (optional)</label>
<p class="muted" id="candidate-hint">PolicyPath documents (YAML, separated by ---) that replace their paths for this decision only.</p>
<textarea id="candidate" name="candidate" spellcheck="false" aria-describedby="candidate-hint">${form.candidate}</textarea>
<button class="primary" type="submit" name="intent" value="run">Simulate</button>
</form>`,
  )
}
