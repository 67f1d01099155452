// `kind: Client` — an OAuth client. metadata.name is its client_id.
import * as z from 'zod'
import { strongKey } from '../lib/jwk-strength.ts'
import { documentSchema, Metadata, ScopeToken } from '../documents/envelope.ts'
import { CLIENT_CREDENTIALS, TOKEN_EXCHANGE } from '../oauth/protocol.ts'

/** Grant types a client may be registered for; the server supports each of these. */
export const GrantType = z.enum([CLIENT_CREDENTIALS, TOKEN_EXCHANGE])

const ClientProfile = z.enum(['agent', 'service', 'app', 'resource-server'])

const ClientId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'a client_id is 1-128 letters, digits, ".", "_", ":" or "-"')

const PublicJwk = z
  .looseObject({ kty: z.enum(['EC', 'RSA', 'OKP']), kid: z.string().min(1).optional() })
  .refine((jwk) => !('d' in jwk), 'a client jwks must hold public keys only (no "d")')
  .check(strongKey)

export const ClientDocument = documentSchema(
  'Client',
  Metadata.extend({ name: ClientId }),
  z
    .strictObject({
      profile: ClientProfile,
      secret: z.string().min(16, 'a client secret must have at least 16 characters').max(512).optional(),
      jwks: z.strictObject({ keys: z.array(PublicJwk).min(1) }).optional(),
      grantTypes: z.array(GrantType).default([]),
      redirectUris: z.array(z.url()).default([]),
      scopes: z.array(ScopeToken).default([]),
      // A disabled client cannot authenticate, and every token it holds or acts in is inactive at once.
      disabled: z.boolean().default(false),
      // RFC 9449 §5.2 (dpop_bound_access_tokens): every token request must carry a DPoP proof.
      dpopBoundAccessTokens: z.boolean().default(false),
      // Approvals the agent's actions need are announced here (docs/runtime-authorization.md), a signed SET.
      approvalWebhook: z.url({ protocol: /^https?$/ }).optional(),
    })
    .refine((spec) => (spec.secret === undefined) !== (spec.jwks === undefined), {
      message: 'exactly one of secret (client_secret_basic/post) or jwks (private_key_jwt) is required',
    }),
)
export type ClientDocument = z.output<typeof ClientDocument>

/** Holding this scope makes a client an administrator (it may introspect any token). */
export const ADMIN_SCOPE = 'mandate:admin'
