// oidc-provider's cookies (the session and the interaction in progress): HttpOnly, SameSite=Lax, signed
// with keys derived from the master key, and Secure whenever the issuer is https — a plain http issuer is
// for development on this machine only (docs/sign-in.md).
export function cookieOptions(issuer: string, keys: string[]) {
  const secure = new URL(issuer).protocol === 'https:'
  const common = { httpOnly: true, sameSite: 'lax', secure, signed: true, overwrite: true } as const
  return {
    keys,
    names: { session: 'mandate.session', interaction: 'mandate.interaction', resume: 'mandate.resume' },
    long: { ...common },
    short: { ...common },
  }
}
