// What every request of an agent needs, made once: Mandate's metadata (RFC 8414 discovery), the client's
// authentication method (client_secret_basic or private_key_jwt, RFC 7523) and its DPoP key (RFC 9449).
import * as oauth from 'oauth4webapi'
import { type ProofSigner, proofSigner } from './dpop-proof.ts'

/** How an agent authenticates to Mandate: a secret, or a private key registered in its Client document. */
export type AgentOptions = {
  /** Mandate's issuer URL (MANDATE_ISSUER), e.g. https://mandate.example */
  issuer: string
  clientId: string
  /** RFC 9449: bind every token this agent obtains to this key (its public key must be extractable). */
  dpop?: oauth.CryptoKeyPair
  /** Plain http. Allowed by default only for a loopback issuer (localhost, 127.0.0.1, [::1]): development. */
  allowHttp?: boolean
} & (
  | { clientSecret: string; privateKey?: never; keyId?: never }
  | { privateKey: oauth.CryptoKey; keyId?: string; clientSecret?: never }
)

export interface Connection {
  readonly as: oauth.AuthorizationServer
  readonly client: oauth.Client
  readonly auth: oauth.ClientAuth
  /** For /token: oauth4webapi's handle signs the proofs and keeps the nonces Mandate sends. */
  readonly dpop: oauth.DPoPHandle | undefined
  /** For /tasks, which oauth4webapi has no request for: the same key. */
  readonly tasksDpop: ProofSigner | undefined
  /** Options for every oauth4webapi request. */
  readonly http: { [oauth.allowInsecureRequests]?: boolean }
  readonly tasksUrl: URL
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])

export async function connect(options: AgentOptions): Promise<Connection> {
  const issuer = new URL(options.issuer)
  const insecure = issuer.protocol === 'http:' && (options.allowHttp ?? LOOPBACK.has(issuer.hostname))
  const http = insecure ? { [oauth.allowInsecureRequests]: true } : {}
  // Mandate serves the same metadata at both well-known paths; RFC 8414's is the OAuth one.
  const response = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...http })
  const as = await oauth.processDiscoveryResponse(issuer, response)
  const client: oauth.Client = { client_id: options.clientId }
  return {
    as,
    client,
    auth: clientAuth(options),
    dpop: options.dpop ? oauth.DPoP(client, options.dpop) : undefined,
    tasksDpop: options.dpop ? proofSigner(options.dpop) : undefined,
    http,
    // The tasks API is not in the metadata: it lives beside /token, under the issuer.
    tasksUrl: new URL(`${as.issuer.replace(/\/$/, '')}/tasks`),
  }
}

function clientAuth(options: AgentOptions): oauth.ClientAuth {
  if (options.clientSecret !== undefined && options.privateKey === undefined)
    return oauth.ClientSecretBasic(options.clientSecret)
  if (options.privateKey !== undefined && options.clientSecret === undefined)
    return oauth.PrivateKeyJwt(
      options.keyId === undefined ? options.privateKey : { key: options.privateKey, kid: options.keyId },
    )
  throw new TypeError('mandateAgent: give exactly one of clientSecret or privateKey')
}
