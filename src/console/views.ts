// The read-only pages: filters as GET forms, tables with captions, a task's token tree as nested lists.
// Pure: the routes read, these render.
import type { ApprovalView } from '../approvals/present.ts'
import { type Html, html } from '../pages/html.ts'
import { consolePage, type Frame, notice, table } from './layout.ts'
import type { TokenView } from '../admin/queries.ts'

export type Filter = Record<string, string>

const when = (iso: string | Date | null | undefined) =>
  iso ? (typeof iso === 'string' ? iso : iso.toISOString()).replace('T', ' ').replace(/\.\d+Z$/, 'Z') : ''
const taskLink = (id: string | null | undefined) =>
  id ? html`<a href="/admin/task?id=${encodeURIComponent(id)}">${id.slice(0, 8)}</a>` : ''
const result = (value: string) => html`<span class="badge ${value === 'allow' ? 'allow' : 'deny'}">${value}</span>`

function filterForm(
  action: string,
  filter: Filter,
  fields: Array<[name: string, label: string, options?: readonly string[]]>,
): Html {
  return html`<form class="filters" method="get" action="${action}" role="search" aria-label="Filters">
${fields.map(
  ([name, label, options]) =>
    html`<div><label for="f-${name}">${label}</label>${
      options
        ? html`<select id="f-${name}" name="${name}"><option value="">any</option>${options.map(
            (o) => html`<option value="${o}"${filter[name] === o ? html` selected` : ''}>${o}</option>`,
          )}</select>`
        : html`<input type="text" id="f-${name}" name="${name}" value="${filter[name] ?? ''}">`
    }</div>`,
)}
<button type="submit">Filter</button> <a class="button" href="${action}">Clear</a>
</form>`
}

interface DecisionView {
  decision_id: string
  kind: string
  time: string
  result: string
  reason: string | null
  client_id: string | null
  subject: string | null
  actor_chain: string[] | null
  resources: string[]
  granted_scope: string | null
  policy_path: string | null
  policy_version: number | null
  task_id: string | null
  action?: string | null
}

export function decisionsPage(
  frame: Frame,
  filter: Filter,
  decisions: readonly DecisionView[],
  problem?: string,
): string {
  return consolePage(
    'Decisions',
    frame,
    html`<h1>Decisions</h1>
${filterForm('/admin/decisions', filter, [
  ['client_id', 'Client'],
  ['subject', 'Subject'],
  ['task_id', 'Task id'],
  ['since', 'Since (ISO time)'],
])}
${problem ? notice('error', problem) : ''}
${table(
  'Decisions, newest first',
  ['Time', 'Kind', 'Result', 'Reason', 'Client', 'Subject', 'Actors', 'Resource', 'Scope or action', 'Policy', 'Task'],
  decisions.map(
    (d) =>
      html`<tr><td class="nowrap">${when(d.time)}</td><td>${d.kind}</td><td>${result(d.result)}</td><td>${d.reason ?? ''}</td><td>${d.client_id ?? ''}</td><td>${d.subject ?? ''}</td><td>${(d.actor_chain ?? []).join(' → ')}</td><td>${d.resources.join(', ')}</td><td>${d.action ?? d.granted_scope ?? ''}</td><td>${
        d.policy_path
          ? html`<a href="/admin/policy-path?name=${encodeURIComponent(d.policy_path)}">${d.policy_path}</a> v${d.policy_version ?? ''}`
          : ''
      }</td><td>${taskLink(d.task_id)}</td></tr>`,
  ),
  'No decisions match.',
)}`,
  )
}

export function approvalsPage(
  frame: Frame,
  filter: Filter,
  approvals: readonly ApprovalView[],
  problem?: string,
): string {
  return consolePage(
    'Approvals',
    frame,
    html`<h1>Approvals</h1>
${filterForm('/admin/approvals', filter, [
  ['status', 'Status', ['pending', 'approved', 'denied', 'used', 'expired']],
  ['delegator', 'Person'],
  ['task_id', 'Task id'],
])}
${problem ? notice('error', problem) : ''}
${table(
  'Approvals, newest first',
  ['Requested', 'Status', 'Person', 'Agent', 'Action', 'Resource', 'Object', 'Decided by', 'Task'],
  approvals.map(
    (a) =>
      html`<tr><td class="nowrap">${when(a.requested_at)}</td><td>${a.status}</td><td>${a.delegator}</td><td>${a.agent}</td><td>${a.action}</td><td>${a.resource}</td><td>${a.object_id}</td><td>${a.decided_by ?? ''}</td><td>${taskLink(a.task_id)}</td></tr>`,
  ),
  'No approvals match.',
)}`,
  )
}

interface AuditView {
  event_id: number
  type: string
  time: string
  actor: string | null
  subject: string | null
  task_id: string | null
  data: unknown
}

export function auditPage(frame: Frame, filter: Filter, events: readonly AuditView[], problem?: string): string {
  return consolePage(
    'Audit events',
    frame,
    html`<h1>Audit events</h1>
${filterForm('/admin/audit', filter, [
  ['type', 'Type'],
  ['task_id', 'Task id'],
  ['since', 'Since (ISO time)'],
])}
${problem ? notice('error', problem) : ''}
${table(
  'Audit events, newest first',
  ['Time', 'Type', 'Actor', 'Subject', 'Task', 'Details'],
  events.map(
    (e) =>
      html`<tr><td class="nowrap">${when(e.time)}</td><td>${e.type}</td><td>${e.actor ?? ''}</td><td>${e.subject ?? ''}</td><td>${taskLink(e.task_id)}</td><td><code>${JSON.stringify(e.data)}</code></td></tr>`,
  ),
  'No audit events match.',
)}`,
  )
}

/** A token of the task's tree as the admin API presents it (admin/queries.ts). */
type TokenNode = Pick<
  TokenView,
  'jti' | 'parent_jti' | 'client_id' | 'sub' | 'actor_chain' | 'aud' | 'scope' | 'grant_type' | 'expires_at' | 'active'
>

function tokenTree(tokens: readonly TokenNode[]): Html {
  const known = new Set(tokens.map((t) => t.jti))
  const children = (parent: string | null): TokenNode[] =>
    tokens.filter((t) => (parent === null ? !t.parent_jti || !known.has(t.parent_jti) : t.parent_jti === parent))
  const branch = (nodes: TokenNode[]): Html =>
    html`<ul class="tree">${nodes.map(
      (t) =>
        html`<li><code>${t.jti.slice(0, 12)}</code> <strong>${t.client_id}</strong> for ${t.sub}${
          t.actor_chain.length ? html` (acting: ${t.actor_chain.join(' → ')})` : ''
        }, ${t.scope || 'no scope'} at ${t.aud.join(', ')} <span class="badge ${t.active ? 'active' : 'deny'}">${t.active ? 'active' : 'inactive'}</span>${
          children(t.jti).length ? branch(children(t.jti)) : ''
        }</li>`,
    )}</ul>`
  return tokens.length ? branch(children(null)) : html`<p class="muted">No tokens.</p>`
}

interface TaskDetailView {
  task: {
    task_id: string
    status: string
    delegator: string
    agent: string
    purpose: string | null
    scope: string
    created_at: string
    expires_at: string
  }
  subtasks: Array<{ task_id: string; status: string; agent: string; purpose: string | null }>
  token_tree: TokenNode[]
  actions: Array<{
    time: string
    action: string | null
    resource: string | null
    object_id: string | null
    result: string
    reason: string | null
    agent: string | null
    actor_chain: string[] | null
  }>
  approvals: ApprovalView[]
}

export function taskPage(frame: Frame, detail: TaskDetailView): string {
  const { task } = detail
  return consolePage(
    `Task ${task.task_id}`,
    frame,
    html`<h1>Task <code>${task.task_id}</code></h1>
<section class="box" aria-label="Task"><dl class="facts">
<dt>Status</dt><dd>${task.status}</dd><dt>Person</dt><dd>${task.delegator}</dd><dt>Agent</dt><dd>${task.agent}</dd>
<dt>Purpose</dt><dd>${task.purpose ?? ''}</dd><dt>Scope</dt><dd>${task.scope}</dd>
<dt>Created</dt><dd>${when(task.created_at)}</dd><dt>Expires</dt><dd>${when(task.expires_at)}</dd>
</dl></section>
<p><a href="/admin/decisions?task_id=${task.task_id}">Decisions of this task</a> · <a href="/admin/audit?task_id=${task.task_id}">Audit events of this task</a></p>
${
  detail.subtasks.length
    ? html`<h2>Subtasks</h2><ul>${detail.subtasks.map((s) => html`<li>${taskLink(s.task_id)} ${s.agent}: ${s.purpose ?? ''} (${s.status})</li>`)}</ul>`
    : ''
}
<h2>Token tree</h2>
${tokenTree(detail.token_tree)}
<h2>Actions timeline</h2>
${table(
  'Actions, oldest first',
  ['Time', 'Agent', 'Acting through', 'Action', 'Resource', 'Object', 'Result', 'Reason'],
  detail.actions.map(
    (a) =>
      html`<tr><td class="nowrap">${when(a.time)}</td><td>${a.agent ?? ''}</td><td>${(a.actor_chain ?? []).join(' → ')}</td><td>${a.action ?? ''}</td><td>${a.resource ?? ''}</td><td>${a.object_id ?? ''}</td><td>${result(a.result)}</td><td>${a.reason ?? ''}</td></tr>`,
  ),
  'No actions yet.',
)}
<h2>Approvals</h2>
${table(
  'Approvals of this task',
  ['Requested', 'Status', 'Action', 'Object', 'Decided by'],
  detail.approvals.map(
    (a) =>
      html`<tr><td class="nowrap">${when(a.requested_at)}</td><td>${a.status}</td><td>${a.action}</td><td>${a.object_id}</td><td>${a.decided_by ?? ''}</td></tr>`,
  ),
  'No approvals.',
)}`,
  )
}

export function clientsPage(
  frame: Frame,
  rows: ReadonlyArray<{
    client_id: string
    description: string | null
    profile: string
    grant_types: string[]
    scopes: string[]
    agent: boolean
    disabled_at: Date | null
    updated_at: Date
  }>,
): string {
  return consolePage(
    'Clients',
    frame,
    html`<h1>Clients</h1>
${table(
  'Registered clients',
  ['Client', 'Description', 'Profile', 'Grant types', 'Scopes', 'State', 'Changed'],
  rows.map(
    (c) =>
      html`<tr><td><code>${c.client_id}</code>${c.agent ? ' (agent app)' : ''}</td><td>${c.description ?? ''}</td><td>${c.profile}</td><td>${c.grant_types.join(', ')}</td><td>${c.scopes.join(' ')}</td><td>${c.disabled_at ? 'disabled' : 'enabled'}</td><td class="nowrap">${when(c.updated_at)}</td></tr>`,
  ),
  'No clients.',
)}`,
  )
}

export function resourcesPage(
  frame: Frame,
  rows: ReadonlyArray<{
    name: string
    uri: string
    description: string | null
    scopes: string[]
    access_token_lifetime: number
    updated_at: Date
  }>,
): string {
  return consolePage(
    'Resources',
    frame,
    html`<h1>Resources</h1>
${table(
  'Registered resources',
  ['Name', 'URI', 'Description', 'Scopes', 'Token lifetime (s)', 'Changed'],
  rows.map(
    (r) =>
      html`<tr><td>${r.name}</td><td><code>${r.uri}</code></td><td>${r.description ?? ''}</td><td>${r.scopes.join(' ')}</td><td>${r.access_token_lifetime}</td><td class="nowrap">${when(r.updated_at)}</td></tr>`,
  ),
  'No resources.',
)}`,
  )
}
