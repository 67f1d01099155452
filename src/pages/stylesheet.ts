// The one stylesheet of Mandate's pages, served from our own origin (the CSP allows no inline style).
// Colours meet WCAG 2.2 AA contrast; focus is always visible; the layout reads on a phone and a laptop.
import type { Context, Next } from 'koa'
import { STYLESHEET_PATH } from './html.ts'

const CSS = `
:root { color-scheme: light; --ink: #1b1f24; --muted: #4a5361; --accent: #0b5cad; --danger: #a4161a; --line: #c9d1db; }
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: #f3f5f8; display: flex; align-items: flex-start; justify-content: center; }
.card { width: min(32rem, 100% - 2rem); margin: 3rem 1rem; padding: 2rem; background: #fff;
  border: 1px solid var(--line); border-radius: 8px; }
h1 { font-size: 1.5rem; margin: 0 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
p, li { color: var(--ink); }
.muted { color: var(--muted); }
label { display: block; font-weight: 600; margin: 1rem 0 .25rem; }
input[type=text], input[type=password] { width: 100%; padding: .6rem .7rem; font: inherit;
  border: 1px solid #6b7480; border-radius: 4px; }
button, .button { display: inline-block; margin: 1.25rem .5rem 0 0; padding: .6rem 1.2rem; font: inherit;
  font-weight: 600; border-radius: 4px; border: 1px solid var(--accent); cursor: pointer; text-decoration: none; }
.primary { background: var(--accent); color: #fff; }
.secondary { background: #fff; color: var(--accent); }
:focus-visible { outline: 3px solid #f2a900; outline-offset: 2px; }
.error { color: var(--danger); border-left: 4px solid var(--danger); padding: .5rem .75rem; background: #fdf1f1; }
.notice { border-left: 4px solid var(--accent); padding: .5rem .75rem; background: #eef5fc; }
ul.scopes { padding-left: 1.2rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em; }
.divider { margin: 1.5rem 0 .5rem; color: var(--muted); }
`

export async function serveStylesheet(ctx: Context, next: Next): Promise<void> {
  if (ctx.path !== STYLESHEET_PATH || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next()
  ctx.type = 'text/css; charset=utf-8'
  ctx.set('Cache-Control', 'public, max-age=3600')
  ctx.set('X-Content-Type-Options', 'nosniff')
  ctx.body = CSS
}
