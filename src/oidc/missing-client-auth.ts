// RFC 6749 §5.2: a request with no client authentication at all is invalid_client (401), like a failed
// one. oidc-provider answers 400 invalid_request there. Its route error handler sets the body, then emits
// `<route>.error` synchronously; the answer is rewritten in that listener, inside the route, so every
// middleware around the provider (refusal records, the failed-authentication count and rate limits in
// http/) sees the final 401 invalid_client.
import { errors, type KoaContextWithOIDC, type Provider } from 'oidc-provider'

const NO_CLIENT_AUTHENTICATION = 'no client authentication mechanism provided'

export function answerMissingClientAuth(provider: Provider): void {
  const rewrite = (ctx: KoaContextWithOIDC, error: unknown) => {
    if (!(error instanceof errors.InvalidRequest) || error.error_description !== NO_CLIENT_AUTHENTICATION) return
    const answer = new errors.InvalidClientAuth('no client authentication included')
    ctx.status = answer.statusCode
    ctx.body = { error: answer.message, error_description: answer.error_description }
    // The same challenge oidc-provider sends with its other invalid_client answers.
    ctx.set(
      'WWW-Authenticate',
      `Basic realm="${provider.issuer}", error="${answer.message}", error_description="${answer.error_description}"`,
    )
  }
  provider.on('grant.error', rewrite)
  provider.on('introspection.error', rewrite)
  provider.on('revocation.error', rewrite)
}
