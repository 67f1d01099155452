// RFC 6749 §5.2: a client using a grant it is not registered for gets unauthorized_client.
// oidc-provider answers invalid_request there, so its one check is wrapped to throw the RFC code.
import { errors, type Provider } from 'oidc-provider'

export function answerUnauthorizedClient(provider: Provider): void {
  const Client = provider.Client.prototype as unknown as { grantTypeAllowed(type: string): boolean }
  const allowed = Client.grantTypeAllowed
  Client.grantTypeAllowed = function grantTypeAllowed(this: unknown, type: string) {
    if (allowed.call(this, type)) return true
    const ctx = (provider.constructor as typeof Provider).ctx
    // Only the token endpoint's grant check becomes an error; other callers still get a boolean.
    if (ctx?.oidc.route === 'token' && ctx.oidc.params?.grant_type === type) {
      throw new errors.UnauthorizedClient('the client is not allowed to use this grant type')
    }
    return false
  }
}
