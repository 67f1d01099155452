// The console's one layout: a skip link, a header naming who is signed in with a sign-out form, the
// navigation (the current page marked for assistive technology), and a main landmark. No script, no
// inline style (the CSP allows neither). Pure.
import { type Html, html } from '../pages/html.ts'

export const CONSOLE_STYLESHEET = '/admin/console.css'

export interface Frame {
  /** Who is signed in, and the CSRF token of their session; absent on the pages before sign-in. */
  who?: { username: string; csrf: string }
  /** The navigation entry of this page. */
  section?: string
}

const SECTIONS = [
  ['policy-paths', 'Policy paths', '/admin/policy-paths'],
  ['simulate', 'Simulate', '/admin/simulate'],
  ['decisions', 'Decisions', '/admin/decisions'],
  ['approvals', 'Approvals', '/admin/approvals'],
  ['audit', 'Audit', '/admin/audit'],
  ['clients', 'Clients', '/admin/clients'],
  ['resources', 'Resources', '/admin/resources'],
] as const

export function consolePage(title: string, frame: Frame, body: Html): string {
  return html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title} · Mandate admin</title>
<link rel="stylesheet" href="${CONSOLE_STYLESHEET}">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<span class="brand">Mandate admin</span>
${
  frame.who
    ? html`<nav aria-label="Sections"><ul>${SECTIONS.map(
        ([key, label, href]) =>
          html`<li><a href="${href}"${key === frame.section ? html` aria-current="page"` : ''}>${label}</a></li>`,
      )}</ul></nav>
<form class="signout" method="post" action="/admin/logout">
<input type="hidden" name="csrf" value="${frame.who.csrf}">
<span class="muted">${frame.who.username}</span>
<button class="link" type="submit">Sign out</button>
</form>`
    : ''
}
</header>
<main id="main" tabindex="-1">
${body}
</main>
</body>
</html>
`.markup
}

/** A problem or a note at the top of a page. */
export const notice = (kind: 'error' | 'notice' | 'warning', text: Html | string) =>
  html`<div class="${kind}" role="${kind === 'notice' ? 'status' : 'alert'}">${text}</div>`

/** A table of rows, with a caption; an empty list says so, in the words given. */
export function table(caption: string, headings: readonly string[], rows: readonly Html[], empty = 'None.'): Html {
  if (rows.length === 0) return html`<p class="muted">${empty}</p>`
  // A region that scrolls must take focus, so it scrolls by keyboard too (WCAG 2.1.1).
  return html`<div class="scroll" role="region" aria-label="${caption}" tabindex="0"><table><caption>${caption}</caption><thead><tr>${headings.map(
    (h) => html`<th scope="col">${h}</th>`,
  )}</tr></thead><tbody>${rows}</tbody></table></div>`
}
