// OpenID Connect RP-Initiated Logout 1.0 pages: the confirmation (oidc-provider's own form carries its
// xsrf token; our buttons submit it) and the signed-out page when no client redirect follows.
import type { KoaContextWithOIDC } from 'oidc-provider'
import { setPageHeaders } from '../pages/headers.ts'
import { Html, html, page } from '../pages/html.ts'
import { displayNameOf } from './client-metadata.ts'

export async function logoutPage(ctx: KoaContextWithOIDC, form: string): Promise<void> {
  setPageHeaders(ctx)
  const client = ctx.oidc.client
  ctx.body = page(
    'Sign out',
    html`<h1>Sign out</h1>
<p>Do you want to sign out of Mandate${client ? html` and ${displayNameOf(client)}` : ''}?</p>
${new Html(form)}
<button class="primary" type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>
<button class="secondary" type="submit" form="op.logoutForm">Stay signed in</button>`,
  )
}

export async function signedOutPage(ctx: KoaContextWithOIDC): Promise<void> {
  setPageHeaders(ctx)
  ctx.body = page('Signed out', html`<h1>Signed out</h1><p>You are signed out of Mandate.</p>`)
}
