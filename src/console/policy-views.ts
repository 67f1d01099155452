// The policy path pages of the console that read: the list with its search, a path (its document, effective
// policy and history) and a diff of two versions. Pure: each takes what the routes read and returns the page.
import { type Html, html } from '../pages/html.ts'
import type { AnnotatedPolicy } from '../policy/annotate.ts'
import type { Change } from '../policy/diff.ts'
import type { VersionSource } from '../policy/store.ts'
import { consolePage, type Frame, notice, table } from './layout.ts'

export interface ConsoleFinding {
  severity: string
  code: string
  message: string
  path: string
  line?: number
  column?: number
}

const q = (params: Record<string, string | number>) =>
  new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString()
export const pathHref = (name: string, extra: Record<string, string | number> = {}, page = '') =>
  `/admin/policy-path${page}?${q({ name, ...extra })}`
const time = (date: Date | string) =>
  (typeof date === 'string' ? date : date.toISOString()).replace('T', ' ').replace(/\.\d+Z$/, 'Z')

export function listPage(
  frame: Frame,
  query: string,
  paths: Array<{
    name: string
    version: number
    description: string | null
    owner: string | null
    bindings: unknown[]
    updated_at: Date
  }>,
): string {
  return consolePage(
    'Policy paths',
    frame,
    html`<h1>Policy paths</h1>
<form class="filters" method="get" action="/admin/policy-paths" role="search">
<div><label for="q">Search paths</label><input type="search" id="q" name="q" value="${query}" class="wide"></div>
<button type="submit">Search</button>
</form>
${table(
  'Policy paths',
  ['Path', 'Version', 'Description', 'Owner', 'Bindings', 'Changed'],
  paths.map(
    (p) =>
      html`<tr><td><a href="${pathHref(p.name)}">${p.name}</a></td><td>${p.version}</td><td>${p.description ?? ''}</td><td>${p.owner ?? ''}</td><td>${p.bindings.length}</td><td class="nowrap">${time(p.updated_at)}</td></tr>`,
  ),
  'No policy paths match.',
)}`,
  )
}

const shown = (value: unknown): string =>
  value === null || value === undefined
    ? 'not set'
    : Array.isArray(value)
      ? value.length === 0
        ? 'none'
        : value.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(', ')
      : String(value)

const EFFECTIVE: Array<[keyof AnnotatedPolicy, string]> = [
  ['scopes', 'Scopes'],
  ['tokenLifetime', 'Token lifetime (s)'],
  ['subjectIssuers', 'Subject token issuers'],
  ['subjectTypes', 'Subject token types'],
  ['holders', 'Holders'],
  ['modes', 'Modes'],
  ['actors', 'Actors'],
  ['maxDepth', 'Delegation depth'],
  ['intermediaries', 'Intermediaries'],
  ['taskRequired', 'Task required'],
  ['taskMaxLifetime', 'Task lifetime (s)'],
  ['requireDpop', 'DPoP required'],
]

export interface PathView {
  name: string
  version: number
  yaml: string
  effective: AnnotatedPolicy | undefined
  versions: Array<{
    version: number
    created_at: Date
    retired: boolean
    reason: string | null
    source: VersionSource | null
  }>
  message?: string | undefined
}

export function pathPage(frame: Frame, view: PathView): string {
  const { effective } = view
  return consolePage(
    view.name,
    frame,
    html`<p><a href="/admin/policy-paths">Policy paths</a></p>
<h1>${view.name}</h1>
${view.message ? notice('notice', view.message) : ''}
<p>Version ${view.version}. <a class="button primary" href="${pathHref(view.name, {}, '/edit')}">Edit ${view.name}</a></p>
<h2>Effective policy</h2>
${
  effective
    ? table(
        'Effective policy',
        ['Setting', 'Value', 'Set by'],
        EFFECTIVE.map(([key, label]) => {
          const item = effective[key] as { value: unknown; from: string[] }
          return html`<tr><th scope="row">${label}</th><td>${shown(item.value)}</td><td>${item.from.length ? item.from.join(', ') : 'default'}</td></tr>`
        }),
      )
    : ''
}
${effective && effective.actions.length > 0 ? html`<p>Action rules: ${effective.actions.map((a) => html`<code>${a.path}</code> (${a.rules.length}) `)}</p>` : ''}
<h2>Current document</h2>
<pre><code>${view.yaml}</code></pre>
<h2>History</h2>
${
  view.versions.length > 1
    ? html`<form class="filters" method="get" action="/admin/policy-path/diff" aria-label="Compare versions">
<input type="hidden" name="name" value="${view.name}">
<div><label for="from">Compare version</label><select id="from" name="from">${view.versions.map(
        (v) =>
          html`<option value="${v.version}"${v.version === view.versions[1]?.version ? html` selected` : ''}>${v.version}</option>`,
      )}</select></div>
<div><label for="to">with version</label><select id="to" name="to">${view.versions.map(
        (v) =>
          html`<option value="${v.version}"${v.version === view.version ? html` selected` : ''}>${v.version}</option>`,
      )}</select></div>
<button type="submit">Compare</button>
</form>`
    : ''
}
${table(
  'Versions',
  ['Version', 'Saved', 'By', 'Reason', 'Changes', 'Roll back'],
  view.versions.map(
    (v) =>
      html`<tr><td>${v.version}${v.version === view.version ? ' (current)' : v.retired ? ' (retired)' : ''}</td><td class="nowrap">${time(v.created_at)}</td><td>${sourceText(v.source)}</td><td>${v.reason ?? ''}</td><td>${
        v.retired
          ? ''
          : html`<a href="${pathHref(view.name, { from: v.version - 1, to: v.version }, '/diff')}">Changes in version ${v.version}</a>`
      }</td><td>${
        v.version === view.version || v.retired
          ? ''
          : html`<a href="${pathHref(view.name, { version: v.version }, '/rollback')}">Roll back to version ${v.version}</a>`
      }</td></tr>`,
  ),
)}`,
  )
}

/** Who made a version: a file applied, an administrator (client or person), or a prune. */
const sourceText = (source: VersionSource | null): string =>
  !source
    ? ''
    : source.kind === 'file'
      ? `apply of ${source.file}`
      : source.kind === 'admin'
        ? source.admin
        : `prune (${source.paths})`

export function changeList(changes: readonly Change[]): Html {
  if (changes.length === 0) return html`<p class="muted">No change of meaning.</p>`
  return html`<ul>${changes.map(
    (c) =>
      html`<li>${c.text}${c.broadening ? html` <span class="badge broadening">broadens</span>` : ''} <code class="muted">${c.field}</code></li>`,
  )}</ul>`
}

export function lineDiff(yaml: string): Html {
  return html`<pre class="diff"><code>${yaml
    .split('\n')
    .map((line) =>
      line.startsWith('+ ')
        ? html`<span class="add">${line}</span>`
        : line.startsWith('- ')
          ? html`<span class="del">${line}</span>`
          : html`${line}\n`,
    )}</code></pre>`
}

export function diffPage(
  frame: Frame,
  diff: { name: string; from: number; to: number; broadening: boolean; changes: Change[]; yaml: string },
): string {
  return consolePage(
    `${diff.name}: version ${diff.from} to ${diff.to}`,
    frame,
    html`<p><a href="${pathHref(diff.name)}">${diff.name}</a></p>
<h1>${diff.name}: version ${diff.from === 0 ? 'none' : diff.from} to ${diff.to}</h1>
${diff.broadening ? notice('warning', 'This change broadens what the path lets through.') : ''}
<h2>What changed</h2>
${changeList(diff.changes)}
<h2>The documents, line by line</h2>
${lineDiff(diff.yaml)}`,
  )
}
