// Server-rendered HTML, escaped by construction: `html` interpolates text as escaped text and only
// another `html` fragment as markup, so no value of a request or a document becomes markup. Pure.

export class Html {
  readonly markup: string
  constructor(markup: string) {
    this.markup = markup
  }
  toString(): string {
    return this.markup
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export const escapeText = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string)

type Part = Html | string | number | undefined | null | false | readonly Part[]

const render = (part: Part): string =>
  part instanceof Html
    ? part.markup
    : Array.isArray(part)
      ? part.map(render).join('')
      : part === undefined || part === null || part === false
        ? ''
        : escapeText(String(part))

export function html(strings: TemplateStringsArray, ...parts: Part[]): Html {
  return new Html(strings.reduce((out, text, i) => out + text + (i < parts.length ? render(parts[i] as Part) : ''), ''))
}

/** The one layout: a language, a title, the stylesheet, a main landmark. No script, no inline style. */
export function page(title: string, body: Html): string {
  return html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title} · Mandate</title>
<link rel="stylesheet" href="${STYLESHEET_PATH}">
</head>
<body>
<main class="card">
${body}
</main>
</body>
</html>
`.markup
}

export const STYLESHEET_PATH = '/assets/mandate.css'
