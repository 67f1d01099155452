// RFC 6749 §5.2: a client using a grant it is not registered for gets unauthorized_client.
// oidc-provider answers invalid_request there, so its one check is wrapped to throw the RFC code.
// The same check tells which token requests authenticated their client: oidc-provider assigns
// ctx.oidc.client before verifying its credentials, and this check is the first to run after them.
import { GRANT_NOT_ALLOWED } from '../oauth/descriptions.ts'
import { errors, type Provider } from 'oidc-provider'

const authenticated = new WeakSet<object>()

/** True once this token request's client passed authentication (the grant check ran for it). */
export const clientAuthenticated = (ctx: object): boolean => authenticated.has(ctx)

export function answerUnauthorizedClient(provider: Provider): void {
  const Client = provider.Client.prototype as unknown as { grantTypeAllowed(type: string): boolean }
  const allowed = Client.grantTypeAllowed
  Client.grantTypeAllowed = function grantTypeAllowed(this: unknown, type: string) {
    const ctx = (provider.constructor as typeof Provider).ctx
    const tokenCheck = ctx?.oidc.route === 'token' && ctx.oidc.params?.grant_type === type
    if (tokenCheck) authenticated.add(ctx)
    if (allowed.call(this, type)) return true
    // Only the token endpoint's grant check becomes an error; other callers still get a boolean.
    if (tokenCheck) throw new errors.UnauthorizedClient(GRANT_NOT_ALLOWED)
    return false
  }
}
