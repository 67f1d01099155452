// `kind: Issuer` — a trusted foreign issuer whose JWTs may be presented as subject tokens
// (for example a company IdP's access tokens). Only asymmetric algorithms: no shared secrets.
import * as z from 'zod'
import { documentSchema, Metadata } from '../manifests/envelope.ts'

export const AsymmetricAlgorithm = z.enum([
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

const PublicJwk = z
  .looseObject({ kty: z.enum(['EC', 'RSA', 'OKP']) })
  .refine((jwk) => !('d' in jwk), 'an issuer jwks must hold public keys only (no "d")')

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
    })
    .refine((spec) => (spec.jwksUri === undefined) !== (spec.jwks === undefined), {
      message: 'exactly one of jwksUri or jwks is required',
    }),
)
export type IssuerDocument = z.output<typeof IssuerDocument>
