// The sign-in and consent pages. Their accessible names are a contract (docs/sign-in.md): products and
// tests drive them by the labels Username and Password and the buttons Sign in, Allow and Deny. Pure.
import { html, page } from '../pages/html.ts'
import type { ConsentView } from './consent.ts'

export interface LoginPage {
  uid: string
  csrf: string
  app: string
  username?: string
  error?: string
  upstream: Array<{ name: string; label: string }>
}

export function loginPage(view: LoginPage): string {
  return page(
    'Sign in',
    html`<h1>Sign in</h1>
<p class="muted">to continue to ${view.app}</p>
${view.error ? html`<p class="error" role="alert" id="sign-in-error">${view.error}</p>` : ''}
<form method="post" action="/interaction/${view.uid}/login" novalidate>
<input type="hidden" name="csrf" value="${view.csrf}">
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required value="${view.username ?? ''}"${view.error ? html` aria-describedby="sign-in-error"` : ''}>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button class="primary" type="submit">Sign in</button>
</form>
${
  view.upstream.length > 0
    ? html`<p class="divider">Or sign in with your company account</p>
<ul class="scopes">${view.upstream.map(
        (issuer) =>
          html`<li><a class="button secondary" href="/interaction/${view.uid}/upstream/${issuer.name}">Continue with ${issuer.label}</a></li>`,
      )}</ul>`
    : ''
}`,
  )
}

export function consentPage(view: ConsentView, form: { uid: string; csrf: string; username: string }): string {
  return page(
    'Allow access',
    html`<h1>Allow ${view.app} to act for you?</h1>
<p>You are signed in as <strong>${form.username}</strong>. <span class="muted">The app's client id is <code>${view.clientId}</code>.</span></p>
${
  view.agent
    ? html`<div class="notice" role="note"><p><strong>${view.app} is an AI agent app.</strong> It will act on your behalf. Only it may exchange what you allow here for its tasks; what it hands to its helpers is limited by the policy your organisation set for it.</p>
${
  view.agentMay.length > 0
    ? html`<p>What it may do for you, for one task at a time:</p><ul class="scopes">${view.agentMay.map(
        (may) =>
          html`<li>at <strong>${may.resource}</strong>${may.scopes.length > 0 ? html`: ${may.scopes.join(', ')}` : ''}${
            may.actions.length > 0 ? html` (actions: ${may.actions.join(', ')})` : ''
          }</li>`,
      )}</ul>`
    : ''
}</div>`
    : ''
}
${view.identity.length > 0 ? html`<h2>About you</h2><ul class="scopes">${view.identity.map((line) => html`<li>${line.description}</li>`)}</ul>` : ''}
${view.resources.map(
  (resource) => html`<h2>${resource.name}</h2>
${resource.description ? html`<p class="muted">${resource.description}</p>` : ''}
<ul class="scopes">${resource.scopes.map(
    (line) => html`<li>${line.description ?? 'Permission'} <code>${line.scope}</code></li>`,
  )}</ul>`,
)}
<form method="post" action="/interaction/${form.uid}/consent">
<input type="hidden" name="csrf" value="${form.csrf}">
<button class="primary" type="submit" name="decision" value="allow">Allow</button>
<button class="secondary" type="submit" name="decision" value="deny">Deny</button>
</form>`,
  )
}
