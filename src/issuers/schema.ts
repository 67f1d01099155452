// `kind: Issuer` — a trusted foreign issuer whose JWTs may be presented as subject tokens
// (for example a company IdP's access tokens). Only asymmetric algorithms: no shared secrets.
import * as z from 'zod'
import { algorithmsFor, strongKey } from '../lib/jwk-strength.ts'
import { documentSchema, Metadata, ScopeToken } from '../documents/envelope.ts'

const AsymmetricAlgorithm = z.enum([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
])

/**
 * Upstream sign-in (docs/upstream-sign-in.md): Mandate is an OpenID Connect client of this issuer and
 * signs people in there (authorization code with PKCE). OIDC Core §3.1.2.1: the scope must hold openid.
 */
export const IssuerLogin = z.strictObject({
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  scopes: z
    .array(ScopeToken)
    .min(1)
    .default(['openid', 'profile', 'email'])
    .refine((scopes) => scopes.includes('openid'), 'scopes must include openid'),
})
export type IssuerLogin = z.output<typeof IssuerLogin>

const PublicJwk = z
  .looseObject({ kty: z.enum(['EC', 'RSA', 'OKP']) })
  .refine((jwk) => !('d' in jwk), 'an issuer jwks must hold public keys only (no "d")')
  .check(strongKey)

export const IssuerDocument = documentSchema(
  'Issuer',
  Metadata.extend({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a name is lowercase letters, digits and "-"'),
  }),
  z
    .strictObject({
      issuer: z.url(),
      jwksUri: z.url({ protocol: /^https?$/ }).optional(),
      jwks: z.strictObject({ keys: z.array(PublicJwk).min(1) }).optional(),
      algorithms: z.array(AsymmetricAlgorithm).min(1),
      audience: z.string().min(1).optional(),
      // Fail closed: a token without a `scope` claim grants nothing, unless this says its tokens without
      // scope are bounded by the policy path alone.
      tokensWithoutScope: z.enum(['none', 'policyCeiling']).default('none'),
      login: IssuerLogin.optional(),
    })
    .refine((spec) => (spec.jwksUri === undefined) !== (spec.jwks === undefined), {
      message: 'exactly one of jwksUri or jwks is required',
    })
    .superRefine((spec, ctx) => {
      spec.jwks?.keys.forEach((jwk, index) => {
        const problem = algorithmProblem(jwk, spec.algorithms)
        if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['jwks', 'keys', index], input: jwk })
      })
    }),
)

/** A key no listed algorithm can use would never verify a token: say so instead. */
function algorithmProblem(jwk: Record<string, unknown>, algorithms: readonly string[]): string | undefined {
  const usable = algorithmsFor(jwk)
  if (usable.length === 0) return undefined // a curve nothing verifies: the strength check says so
  if (typeof jwk.alg === 'string' && !algorithms.includes(jwk.alg))
    return `the key's alg ${jwk.alg} is not in spec.algorithms`
  if (!usable.some((alg) => algorithms.includes(alg)))
    return `no algorithm in spec.algorithms can use this key (it suits ${usable.join(', ')})`
  return undefined
}
export type IssuerDocument = z.output<typeof IssuerDocument>
