// The example's settings from the environment, with defaults that match the demo configuration that
// `npm start` serves (examples/ and policy-paths/: the tickets resource and its introspector). Pure.

export interface McpTicketsConfig {
  /** Mandate's issuer: the tokens' iss, and where the evaluation API is. */
  issuer: string
  /** This server's RFC 8707 resource identifier: the tokens' aud. */
  resource: string
  /** The resource's introspector client, as which the helper asks Mandate. */
  clientId: string
  clientSecret: string
  host: string
  port: number
  /** Where clients reach this server; default http://localhost:<port> (DPoP htu, the Origin check). */
  origin?: string
}

export function configFromEnv(env: Record<string, string | undefined>): McpTicketsConfig {
  const port = Number(env.MCP_TICKETS_PORT ?? '8080')
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('MCP_TICKETS_PORT must be a port number')
  return {
    issuer: env.MANDATE_ISSUER ?? 'http://localhost:3000',
    resource: env.MCP_TICKETS_RESOURCE ?? 'https://tickets.example/',
    clientId: env.MCP_TICKETS_CLIENT_ID ?? 'tickets-api',
    clientSecret: env.MCP_TICKETS_CLIENT_SECRET ?? 'tickets-api-demo-secret',
    // MCP transports §Security: a local server binds to the loopback interface only.
    host: env.MCP_TICKETS_HOST ?? '127.0.0.1',
    port,
    ...(env.MCP_TICKETS_ORIGIN ? { origin: env.MCP_TICKETS_ORIGIN } : {}),
  }
}
