// The policy path pages of the console that change: the editor with its findings at line and column, the
// broadening confirmation, and the rollback. Pure: each takes what the routes read and returns the page.
import { type Html, html } from '../pages/html.ts'
import type { Change } from '../policy/diff.ts'
import { consolePage, type Frame, notice } from './layout.ts'
import { type ConsoleFinding, changeList, lineDiff, pathHref } from './policy-views.ts'

const where = (f: ConsoleFinding) =>
  f.line ? `line ${f.line}, column ${f.column ?? 1}` : f.path ? `at ${f.path}` : 'in the document'

function findingList(findings: readonly ConsoleFinding[], lines: readonly string[]): Html {
  return html`<ul class="findings">${findings.map(
    (f) =>
      html`<li><strong>${f.severity === 'security_warning' ? 'Broadens' : f.severity === 'error' ? 'Error' : 'Warning'}</strong>, ${where(f)}: ${f.message}${
        f.line && lines[f.line - 1] !== undefined ? html`<br><code>${f.line} | ${lines[f.line - 1]}</code>` : ''
      }</li>`,
  )}</ul>`
}

export interface EditView {
  name: string
  /** The version the editor was opened on (If-Match of the save). */
  version: number
  yaml: string
  reason: string
  findings: ConsoleFinding[]
  /** The save was refused for this; the broadening findings ask for confirmation. */
  problem?: string | undefined
  confirm: boolean
  checked?: boolean
}

export function editPage(frame: Frame & { who: { username: string; csrf: string } }, view: EditView): string {
  const lines = view.yaml.split('\n')
  const errors = view.findings.filter((f) => f.severity === 'error')
  const warnings = view.findings.filter((f) => f.severity === 'warning')
  const broadening = view.findings.filter((f) => f.severity === 'security_warning')
  return consolePage(
    `Edit ${view.name}`,
    frame,
    html`<p><a href="${pathHref(view.name)}">${view.name}</a></p>
<h1>Edit ${view.name}</h1>
<p class="muted">Editing version ${view.version}. Check shows what saving would find; nothing is saved until you save with a reason.</p>
${view.problem ? notice('error', view.problem) : ''}
${
  errors.length > 0
    ? html`<div class="error" role="alert" id="findings"><p><strong>${errors.length} error${errors.length === 1 ? '' : 's'}: nothing was saved.</strong></p>${findingList(errors, lines)}</div>`
    : ''
}
${warnings.length > 0 ? html`<div class="warning" role="status" id="warnings"><p><strong>Warnings</strong> (saving is allowed):</p>${findingList(warnings, lines)}</div>` : ''}
${
  broadening.length > 0
    ? html`<div class="warning" role="alert" id="broadening"><p><strong>This change broadens what the path lets through.</strong> Confirm below to save it.</p>${findingList(broadening, lines)}</div>`
    : ''
}
${view.checked && view.findings.length === 0 ? notice('notice', 'No findings: the document is valid.') : ''}
<form method="post" action="${pathHref(view.name, {}, '/edit')}">
<input type="hidden" name="csrf" value="${frame.who.csrf}">
<input type="hidden" name="version" value="${view.version}">
<label for="yaml">Document (YAML)</label>
<textarea id="yaml" name="yaml" spellcheck="false" autocapitalize="none"${errors.length > 0 ? html` aria-invalid="true" aria-describedby="findings"` : ''}>${view.yaml}</textarea>
<label for="reason">Reason for the change</label>
<input type="text" id="reason" name="reason" class="wide" maxlength="1000" value="${view.reason}" autocomplete="off">
${
  view.confirm
    ? html`<div class="check"><input type="checkbox" id="confirm" name="confirm" value="yes"><label for="confirm">I confirm this change broadens the path</label></div>`
    : ''
}
<button type="submit" name="intent" value="check">Check</button>
<button class="primary" type="submit" name="intent" value="save">Save</button>
<button type="submit" name="intent" value="simulate" formaction="/admin/simulate">Simulate with this document</button>
</form>`,
  )
}

export interface RollbackView {
  name: string
  current: number
  target: number
  changes: Change[]
  yaml: string
  reason: string
  problem?: string | undefined
}

export function rollbackPage(frame: Frame & { who: { username: string; csrf: string } }, view: RollbackView): string {
  const broadening = view.changes.some((c) => c.broadening)
  return consolePage(
    `Roll back ${view.name}`,
    frame,
    html`<p><a href="${pathHref(view.name)}">${view.name}</a></p>
<h1>Roll back ${view.name} to version ${view.target}</h1>
<p>A new version equal to version ${view.target} replaces version ${view.current}.</p>
${view.problem ? notice('error', view.problem) : ''}
${broadening ? notice('warning', 'Going back broadens what the path lets through.') : ''}
<h2>What changes</h2>
${changeList(view.changes)}
${lineDiff(view.yaml)}
<form method="post" action="${pathHref(view.name, {}, '/rollback')}">
<input type="hidden" name="csrf" value="${frame.who.csrf}">
<input type="hidden" name="version" value="${view.target}">
<input type="hidden" name="current" value="${view.current}">
<label for="reason">Reason for the rollback</label>
<input type="text" id="reason" name="reason" class="wide" maxlength="1000" value="${view.reason}" autocomplete="off">
${
  broadening
    ? html`<div class="check"><input type="checkbox" id="confirm" name="confirm" value="yes"><label for="confirm">I confirm this rollback broadens the path</label></div>`
    : ''
}
<button class="primary" type="submit">Roll back to version ${view.target}</button>
</form>`,
  )
}
