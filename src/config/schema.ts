// The one configuration contract. Env names, defaults, docs/configuration.md and the JSON Schema
// all derive from this schema (see load.ts and scripts/gen-docs.ts); nothing else defines a setting.
import * as z from 'zod'
import { Duration, DurationOrZero } from '../lib/duration.ts'

/** Seconds resource servers may cache /jwks (its Cache-Control max-age). */
export const JWKS_MAX_AGE = 60

const port = (fallback: number, description: string) =>
  z.coerce.number().int().min(0).max(65535).default(fallback).meta({ description })

const count = (fallback: number, description: string) =>
  z.coerce.number().int().min(1).default(fallback).meta({ description })

/** A 256-bit key, base64 or base64url; the first of the list seals, every key opens (rotation). */
const MasterKey = z.string().transform((text, ctx) => {
  const bytes = Buffer.from(text.trim(), 'base64url')
  if (bytes.length !== 32) {
    ctx.addIssue({ code: 'custom', message: 'each key must be 32 bytes, base64 encoded (openssl rand -base64 32)' })
    return z.NEVER
  }
  return bytes
})

/** A flag: true/false in YAML, or "true"/"false" (also 1/0, yes/no, on/off) in the environment. */
export const Flag = z.union([z.boolean(), z.stringbool()])

export const Config = z
  .strictObject({
    issuer: z
      .url({ protocol: /^https?$/ })
      // Endpoint URLs, assertion audiences and DPoP htu are the issuer plus a path: it must be a bare origin.
      .refine((url) => {
        const parsed = URL.parse(url)
        // Not a URL at all is the url check's finding, reported once.
        return parsed === null || (parsed.pathname === '/' && !url.endsWith('/') && !parsed.search && !parsed.hash)
      }, 'must be an origin without a path, query or trailing slash (for example https://auth.example.com)')
      .optional()
      .meta({
        description:
          'Issuer identifier: the `iss` of every token and the base of every endpoint URL. Required with MANDATE_DATABASE_URL; defaults to http://localhost:<port> on the embedded database.',
      }),
    host: z.string().min(1).default('127.0.0.1').meta({ description: 'Interface the three listeners bind to.' }),
    port: port(
      3000,
      'Public port: the OAuth/OIDC endpoints (token, introspection, revocation, discovery, JWKS) and the tasks API.',
    ),
    adminPort: port(3001, 'Admin port: the admin API (tasks, token lineage, decisions, audit events).'),
    managementPort: port(9000, 'Management port: /health/live, /health/ready, /metrics.'),
    databaseUrl: z
      .url({ protocol: /^postgres(ql)?$/ })
      .optional()
      .meta({
        description:
          'Postgres connection URL. When unset, an embedded PGlite database under MANDATE_DATA_DIR is used (development only).',
        secret: true,
      }),
    databasePoolSize: z.coerce
      .number()
      .int()
      .min(1)
      .max(200)
      .default(10)
      .meta({ description: 'Postgres connections per process.' }),
    databaseTimeout: Duration.prefault('2s').meta({
      description:
        'The bound on every database wait: a pooled connection, one query round trip, a session idle in a transaction; statements and lock waits are cancelled by Postgres at three quarters of it. A stalled database answers 503 + Retry-After within it, never hangs a request. Migrations are not bounded.',
    }),
    dataDir: z.string().min(1).default('./.mandate').meta({
      description: 'Folder of the embedded development database and its generated development master key.',
    }),
    masterKey: z.array(MasterKey).min(1).optional().meta({
      description:
        'Comma-separated list of 32-byte base64 keys sealing signing keys at rest. The first seals, every key opens. Required with MANDATE_DATABASE_URL.',
      secret: true,
    }),
    logLevel: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info')
      .meta({ description: 'Minimum level of the JSON log lines written to stdout.' }),
    migrate: z.enum(['auto', 'check', 'off']).default('auto').meta({
      description:
        'auto: apply pending migrations at start (advisory-locked, safe for several processes). check: wait at start, not serving, until `mandate migrate up` has applied them. off: assume the schema is current.',
    }),
    clockTolerance: Duration.prefault('15s').meta({
      description:
        'Leeway allowed on exp/iat/nbf when verifying JWTs (ours and clients\u2019 assertions), and the largest difference allowed between this process\u2019s clock and the database\u2019s (checked at start and every minute; beyond it the process reports not ready).',
    }),
    trustedTokenMaxLifetime: Duration.prefault('24h').meta({
      description:
        'Longest lifetime a trusted issuer\u2019s token may have left (exp beyond now plus this is refused): a stolen foreign token cannot be exchanged for ever.',
    }),
    approvalLifetime: Duration.prefault('15m').meta({
      description:
        'How long a person has to answer an approval an evaluation requested, and then how long the approval may be used (once); never past the token or task it was requested for.',
    }),
    dpop: z
      .strictObject({
        requireNonce: Flag.prefault(false).meta({
          description:
            'RFC 9449 §8: every DPoP proof must carry a server-provided nonce (answered with use_dpop_nonce and a DPoP-Nonce header until it does).',
        }),
      })
      .prefault({}),
    keys: z
      .strictObject({
        // .prefault runs the default through the transform; .default would hand back the raw "10m".
        publishDelay: Duration.prefault('10m').meta({
          description:
            'How long a new signing key is published in the JWKS before it signs (resource servers must see it first). At least MANDATE_KEYS__REFRESH_INTERVAL plus 60s (the JWKS cache lifetime).',
        }),
        refreshInterval: Duration.prefault('30s').meta({
          description: 'How often each process re-reads signing keys from the database (besides change notifications).',
        }),
      })
      // A key must be seen before it signs: by every process (a missed notification waits for the next
      // refresh) and by every resource server (the JWKS is cacheable for JWKS_MAX_AGE seconds).
      .superRefine((keys, ctx) => {
        const minimum = keys.refreshInterval + JWKS_MAX_AGE
        if (keys.publishDelay < minimum) {
          ctx.addIssue({
            code: 'custom',
            path: ['publishDelay'],
            message: `must be at least the refresh interval plus ${JWKS_MAX_AGE}s of JWKS caching (${minimum}s)`,
          })
        }
      })
      .prefault({}),
    // Issuer jwksUri and Resource revocationWebhook: checked at apply time and before every request.
    outbound: z
      .strictObject({
        requireHttps: Flag.prefault(false).meta({
          description:
            'Refuse http:// in jwksUri and revocationWebhook (at apply and at every fetch). Always true with NODE_ENV=production, where false is refused.',
        }),
        allowHosts: z.array(z.string().min(1)).default([]).meta({
          description:
            'Comma-separated hosts (names or IP literals, as written in the URLs) that jwksUri and revocationWebhook may point at although they are loopback, link-local or cloud metadata addresses (127.0.0.0/8, ::1, localhost, 169.254.0.0/16, fe80::/10, fd00:ec2::254), for example a local test IdP. Without it such URLs are refused at apply, and any host that resolves to such an address is refused at fetch time.',
        }),
      })
      .prefault({}),
    janitor: z
      .strictObject({
        interval: DurationOrZero.prefault('5m').meta({
          description:
            'How often each process runs the janitor, which prunes expired rows (one process at a time, by advisory lock). 0s switches it off; `mandate janitor` runs one pass.',
        }),
        tokenRetention: DurationOrZero.prefault('7d').meta({
          description:
            'How long an issued token\u2019s lineage row is kept after it expired (admin API and CLI lineage, introspection answers false either way). A row is kept while any token depending on it is kept.',
        }),
        webhookRetention: DurationOrZero.prefault('7d').meta({
          description: 'How long a delivered (or finally failed) revocation webhook delivery is kept.',
        }),
        decisionRetention: Duration.optional().meta({
          description: 'How long decision records are kept. Unset (the default): kept forever.',
        }),
        auditRetention: Duration.optional().meta({
          description: 'How long audit events are kept. Unset (the default): kept forever.',
        }),
      })
      .prefault({}),
    bootstrapAdminSecret: z.string().min(16, 'must have at least 16 characters').optional().meta({
      description:
        'When set, a client `mandate-admin` holding the mandate:admin scope is ensured at start with this secret (client_credentials for the admin API, resource urn:mandate:admin).',
      secret: true,
    }),
    shutdownDelay: DurationOrZero.prefault('5s').meta({
      description:
        'On SIGTERM, how long /health/ready answers 503 while every listener still serves, so load balancers stop sending before the listeners close. SIGINT skips it; 0s switches it off.',
    }),
    shutdownTimeout: Duration.prefault('30s').meta({
      description:
        'On SIGTERM, how long in-flight requests may take, once the listeners close, before the process exits anyway.',
    }),
    http: z
      .strictObject({
        headersTimeout: Duration.prefault('10s').meta({
          description:
            'How long a client may take to send the request line and headers; then Node answers 408 and closes the connection.',
        }),
        bodyTimeout: Duration.prefault('10s').meta({
          description:
            'How long a client may take to send a request body once its headers arrived; then 408 and the connection is closed.',
        }),
        trustedProxies: z.coerce.number().int().min(0).max(16).default(0).meta({
          description:
            'Reverse proxies in front of the public port whose X-Forwarded-For entries are believed (the source address for rate limits). 0 ignores the header.',
        }),
      })
      .prefault({}),
    rateLimits: z
      .strictObject({
        enabled: Flag.prefault(true).meta({
          description: 'Per-process rate limits on the public port (429 with Retry-After). false switches them off.',
        }),
        window: Duration.prefault('1m').meta({
          description:
            'The period of every limit below: each allows that many at once, refilled evenly over the window.',
        }),
        failedAuthPerClient: count(60, 'Failed client authentications per claimed client id per window.'),
        failedAuthPerAddress: count(
          600,
          'Failed client authentications per source address (IPv6: per /64) per window.',
        ),
        requestsPerClient: count(
          12000,
          'Token, introspection, revocation and tasks requests per claimed client id per window.',
        ),
        maxTracked: count(
          50000,
          'Client ids or addresses each limit remembers; the least recently seen are forgotten first.',
        ),
      })
      .prefault({}),
    adminConsole: z
      .strictObject({
        url: z
          .url({ protocol: /^https?$/ })
          .refine((url) => {
            const parsed = URL.parse(url)
            return parsed === null || (parsed.pathname === '/' && !url.endsWith('/') && !parsed.search && !parsed.hash)
          }, 'must be an origin without a path, query or trailing slash (for example https://admin.auth.example.com)')
          .optional()
          .meta({
            description:
              'The admin console\u2019s external URL, as people\u2019s browsers reach the admin port (an origin): its sign-in redirect URI is this plus /admin/callback, its forms must come from it, and with https its cookies are Secure with the __Host- prefix. Defaults to http://localhost:<adminPort>.',
          }),
        sessionLifetime: Duration.prefault('8h').meta({
          description: 'How long a console session lasts from sign-in (the role is still checked at every request).',
        }),
      })
      .prefault({}),
    signIn: z
      .strictObject({
        sessionLifetime: Duration.prefault('12h').meta({
          description:
            'How long a person stays signed in at Mandate (the session every server process shares in Postgres).',
        }),
        refreshTokenLifetime: Duration.prefault('14d').meta({
          description:
            'How long a grant lasts: each refresh token is rotated on use and the last one expires this long after sign-in.',
        }),
        failureWindow: Duration.prefault('15m').meta({
          description: 'The period of the two limits on failed sign-ins below (counted in Postgres, across processes).',
        }),
        failuresPerUsername: count(
          10,
          'Failed sign-ins per username per window, whether or not the user exists; then 429 with Retry-After.',
        ),
        failuresPerAddress: count(30, 'Failed sign-ins per source address (IPv6: per /64) per window.'),
      })
      .prefault({}),
  })
  // zod skips refinements once any field has failed; `when` runs this one regardless, so these two
  // problems are reported together with every other (the values may then be unparsed input).
  .superRefine(
    (config, ctx) => {
      if (config.databaseUrl === undefined) return
      if (config.issuer === undefined) {
        ctx.addIssue({ code: 'custom', path: ['issuer'], message: 'required when MANDATE_DATABASE_URL is set' })
      }
      if (config.masterKey === undefined) {
        ctx.addIssue({ code: 'custom', path: ['masterKey'], message: 'required when MANDATE_DATABASE_URL is set' })
      }
    },
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
  )

export type Config = z.output<typeof Config>
