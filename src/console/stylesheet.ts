// The console's stylesheet, served from the admin port itself (the CSP allows our own origin's styles only).
// Colours meet WCAG 2.2 AA contrast, focus is always visible, and tables scroll inside their box on a
// laptop screen rather than the page.
import type { Context } from 'koa'

const CSS = `
:root { color-scheme: light; --ink: #1b1f24; --muted: #4a5361; --accent: #0b5cad; --danger: #a4161a;
  --warn: #7a4d00; --line: #c9d1db; --bg: #f3f5f8; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
.skip { position: absolute; left: -999px; top: 0; background: #fff; padding: .5rem 1rem; }
.skip:focus { left: 1rem; }
.top { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; padding: .6rem 1.5rem;
  background: #fff; border-bottom: 1px solid var(--line); }
.brand { font-weight: 700; }
nav ul { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; margin: 0; padding: 0; }
nav a { color: var(--accent); text-decoration: none; padding: .2rem 0; }
nav a[aria-current=page] { color: var(--ink); font-weight: 700; border-bottom: 3px solid var(--accent); }
.signout { margin-left: auto; display: flex; gap: .75rem; align-items: center; }
main { max-width: 78rem; margin: 0 auto; padding: 1.5rem; }
main:focus { outline: none; }
h1 { font-size: 1.5rem; margin: 0 0 1rem; overflow-wrap: anywhere; }
h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; }
a { color: var(--accent); }
.muted { color: var(--muted); }
section.box { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 1rem 1.25rem; margin: 1rem 0; }
.scroll { overflow-x: auto; background: #fff; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; }
caption { text-align: left; font-weight: 600; padding: .5rem .75rem; }
th, td { text-align: left; vertical-align: top; padding: .4rem .75rem; border-top: 1px solid var(--line); }
th { background: #eef1f5; }
td.nowrap { white-space: nowrap; }
td code { overflow-wrap: anywhere; }
code, pre, textarea { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em; }
pre { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .75rem; overflow-x: auto; }
.diff .add { color: #0a5a2a; background: #e9f7ee; display: block; }
.diff .del { color: var(--danger); background: #fdf1f1; display: block; }
form.filters { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: flex-end; }
form.filters label { margin: 0; }
label { display: block; font-weight: 600; margin: .75rem 0 .25rem; }
input[type=text], input[type=search], input[type=number], select, textarea { padding: .45rem .6rem; font: inherit;
  border: 1px solid #6b7480; border-radius: 4px; background: #fff; color: var(--ink); }
textarea { width: 100%; min-height: 24rem; line-height: 1.45; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
input.wide { width: min(40rem, 100%); }
.check { display: flex; gap: .5rem; align-items: center; font-weight: 600; margin: .75rem 0; }
button, .button { display: inline-block; margin: .75rem .5rem 0 0; padding: .45rem 1rem; font: inherit; font-weight: 600;
  border-radius: 4px; border: 1px solid var(--accent); cursor: pointer; text-decoration: none; background: #fff; color: var(--accent); }
button.primary, .button.primary { background: var(--accent); color: #fff; }
button.danger { border-color: var(--danger); color: var(--danger); }
button.link { border: none; background: none; margin: 0; padding: 0; color: var(--accent); text-decoration: underline; font-weight: 400; }
:focus-visible { outline: 3px solid #f2a900; outline-offset: 2px; }
.error { color: var(--danger); border-left: 4px solid var(--danger); padding: .5rem .75rem; background: #fdf1f1; margin: 1rem 0; }
.warning { color: var(--warn); border-left: 4px solid #c77c00; padding: .5rem .75rem; background: #fff6e5; margin: 1rem 0; }
.notice { border-left: 4px solid var(--accent); padding: .5rem .75rem; background: #eef5fc; margin: 1rem 0; }
ul.findings { margin: .25rem 0; padding-left: 1.2rem; }
ul.findings code { white-space: pre; }
input.wide { display: block; }
textarea.short { min-height: 6rem; }
select { display: block; }
.badge { display: inline-block; padding: 0 .4rem; border-radius: 3px; font-size: .85em; font-weight: 600; border: 1px solid currentColor; }
.badge.allow, .badge.active { color: #0a5a2a; }
.badge.deny, .badge.broadening { color: var(--danger); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
ul.tree, ul.tree ul { list-style: none; padding-left: 1.25rem; margin: 0; }
ul.tree li { border-left: 2px solid var(--line); padding: .2rem 0 .2rem .6rem; }
`

export async function serveConsoleStylesheet(ctx: Context): Promise<void> {
  ctx.type = 'text/css; charset=utf-8'
  ctx.set('Cache-Control', 'public, max-age=3600')
  ctx.set('X-Content-Type-Options', 'nosniff')
  ctx.body = CSS
}
