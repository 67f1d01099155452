// oidc-provider's errors: a person's browser (authorization, logout, resuming after sign-in) is shown a
// page; every other caller gets the RFC 6749 §5.2 JSON body. Either way nothing is redirected to a URI
// the client did not register (RFC 6749 §4.1.2.1: such errors are shown, never sent).
import type { KoaContextWithOIDC } from 'oidc-provider'
import { setPageHeaders } from '../pages/headers.ts'
import { html, page } from '../pages/html.ts'

const BROWSER_ROUTES = new Set(['authorization', 'resume', 'end_session', 'end_session_confirm', 'end_session_success'])

export async function renderProviderError(
  ctx: KoaContextWithOIDC,
  out: { error: string; error_description?: string | undefined },
): Promise<void> {
  if (!BROWSER_ROUTES.has(ctx.oidc?.route ?? '')) {
    ctx.type = 'json'
    ctx.body = out
    return
  }
  setPageHeaders(ctx)
  ctx.body = page(
    'Sign-in error',
    html`<h1>This request cannot go on</h1>
<p class="error" role="alert"><code>${out.error}</code>${out.error_description ? html`: ${out.error_description}` : ''}</p>
<p class="muted">Go back to the app you came from and start again.</p>`,
  )
}
