// `kind: Client` — an OAuth client. metadata.name is its client_id.
import * as z from 'zod'
import { strongKey } from '../lib/jwk-strength.ts'
import { documentSchema, Metadata, ScopeToken } from '../documents/envelope.ts'
import { AUTHORIZATION_CODE, CLIENT_CREDENTIALS, REFRESH_TOKEN, TOKEN_EXCHANGE } from '../oauth/protocol.ts'

/** Grant types a client may be registered for; the server supports each of these. */
export const GrantType = z.enum([CLIENT_CREDENTIALS, TOKEN_EXCHANGE, AUTHORIZATION_CODE, REFRESH_TOKEN])

/** Grant types a policy path may be bound to: refresh_token continues its authorization_code binding. */
export const BoundGrantType = z.enum([CLIENT_CREDENTIALS, TOKEN_EXCHANGE, AUTHORIZATION_CODE])

/** Grants a public client (no secret, no keys) may use: those that need no client authentication. */
const PUBLIC_GRANTS: readonly string[] = [AUTHORIZATION_CODE, REFRESH_TOKEN]

const ClientProfile = z.enum(['agent', 'service', 'app', 'resource-server'])

const ClientId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'a client_id is 1-128 letters, digits, ".", "_", ":" or "-"')

/**
 * The stored hash of a client secret as Mandate writes it (clients/secret-hash.ts), never the secret: what
 * `mandate export` writes for a client with a secret, so a Git repository holds no secret and applying the
 * export keeps the secret as it is. Only Mandate's own parameters, so a document cannot set a costly one.
 */
const SecretHash = z
  .string()
  .regex(
    /^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/,
    'a secretHash is the scrypt hash mandate export writes (scrypt$16384$8$1$…), never a secret',
  )

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
      secretHash: SecretHash.optional(),
      jwks: z.strictObject({ keys: z.array(PublicJwk).min(1) }).optional(),
      grantTypes: z.array(GrantType).default([]),
      // RFC 6749 §3.1.2: exact redirection endpoints for authorization_code (compared as strings).
      redirectUris: z.array(z.url()).default([]),
      // OpenID Connect RP-Initiated Logout 1.0 §3: where the person may be sent after signing out.
      postLogoutRedirectUris: z.array(z.url()).default([]),
      // An agent app: people signing in are told so, and their tokens name it in may_act (RFC 8693 §4.4).
      agent: z.boolean().default(false),
      scopes: z.array(ScopeToken).default([]),
      // A disabled client cannot authenticate, and every token it holds or acts in is inactive at once.
      disabled: z.boolean().default(false),
      // RFC 9449 §5.2 (dpop_bound_access_tokens): every token request must carry a DPoP proof.
      dpopBoundAccessTokens: z.boolean().default(false),
      // Approvals the agent's actions need are announced here (docs/runtime-authorization.md), a signed SET.
      approvalWebhook: z.url({ protocol: /^https?$/ }).optional(),
    })
    .refine((spec) => [spec.secret, spec.secretHash, spec.jwks].filter((v) => v !== undefined).length <= 1, {
      message:
        'at most one of secret or secretHash (client_secret_basic/post) or jwks (private_key_jwt); none makes a public client',
    })
    // RFC 6749 §2.1: a public client cannot keep a credential, so it may only use PKCE-protected codes.
    .refine(
      (spec) =>
        spec.secret !== undefined ||
        spec.secretHash !== undefined ||
        spec.jwks !== undefined ||
        spec.grantTypes.every((g) => PUBLIC_GRANTS.includes(g)),
      {
        message: 'a public client (no secret, no jwks) may only use authorization_code and refresh_token',
        path: ['grantTypes'],
      },
    )
    .refine((spec) => !spec.grantTypes.includes(AUTHORIZATION_CODE) || spec.redirectUris.length > 0, {
      message: 'authorization_code needs at least one redirectUris entry',
      path: ['redirectUris'],
    })
    .refine((spec) => !spec.grantTypes.includes(REFRESH_TOKEN) || spec.grantTypes.includes(AUTHORIZATION_CODE), {
      message: 'refresh_token comes with authorization_code',
      path: ['grantTypes'],
    }),
)
export type ClientDocument = z.output<typeof ClientDocument>

/** Holding this scope makes a client an administrator (it may introspect any token). */
export const ADMIN_SCOPE = 'mandate:admin'
