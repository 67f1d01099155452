// Client authentication at our own public endpoints (the tasks API, the evaluation API, approvals' callers),
// exactly as at the token endpoint (clients/authenticate.ts), answered in our edge's error vocabulary.
import type { Context } from 'koa'
import type { CatalogSource } from '../catalog/source.ts'
import { type AuthenticateDeps, authenticateClient, ClientAuthError } from '../clients/authenticate.ts'
import type { ClientRow } from '../clients/store.ts'
import { HttpError } from './http-error.ts'

export interface EdgeAuthDeps extends Omit<AuthenticateDeps, 'findEnabledClient' | 'audiences'> {
  issuer: string
  catalog: CatalogSource
}

/** RFC 7523 §3: an assertion may name the issuer, the token endpoint, or this endpoint's URL as audience. */
export async function authenticateAtEdge(
  ctx: Context,
  params: Record<string, unknown>,
  deps: EdgeAuthDeps,
): Promise<ClientRow> {
  const auth: AuthenticateDeps = {
    ...deps,
    findEnabledClient: async (clientId) => (await deps.catalog.current()).enabledClient(clientId),
    audiences: [deps.issuer, `${deps.issuer}/token`, `${deps.issuer}${ctx.path}`],
  }
  try {
    return await authenticateClient(ctx.get('authorization') || undefined, params, auth)
  } catch (error) {
    if (error instanceof ClientAuthError)
      throw error.error === 'invalid_client'
        ? new HttpError('invalid_client')
        : new HttpError('invalid_request', error.message)
    throw error
  }
}
