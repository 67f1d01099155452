// Where the authorization server's keys are: its RFC 8414 metadata (jwks_uri), checked to be its own
// (§3.3: issuer equal to the one configured), kept for the answer's max-age (an hour when it says none).
import type { FetchLike } from './fetch.ts'

const DEFAULT_MAX_AGE = 3600

export interface Discovered {
  jwksUri: string
  /** Epoch milliseconds after which the metadata is read again. */
  until: number
}

/** The metadata at `${issuer}/.well-known/oauth-authorization-server`, where Mandate serves it. */
export async function discover(issuer: string, fetch: FetchLike, timeoutMs: number): Promise<Discovered> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/oauth-authorization-server`
  const response = await fetch(url, {
    headers: { accept: 'application/json' },
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
  })
  if (response.status !== 200) throw new Error(`authorization server metadata: HTTP ${response.status}`)
  const metadata = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown }
  if (metadata.issuer !== issuer)
    throw new Error(`authorization server metadata names issuer ${String(metadata.issuer)}`)
  if (typeof metadata.jwks_uri !== 'string' || !URL.canParse(metadata.jwks_uri)) {
    throw new Error('authorization server metadata has no usable jwks_uri')
  }
  return { jwksUri: metadata.jwks_uri, until: Date.now() + maxAge(response.headers.get('cache-control')) * 1000 }
}

/** RFC 9111 §5.2.2.1 max-age; no-store and no-cache mean "ask every time" (we still ask once per call). */
export function maxAge(cacheControl: string | null): number {
  if (!cacheControl) return DEFAULT_MAX_AGE
  if (/(^|,)\s*(no-store|no-cache)\s*(,|$)/i.test(cacheControl)) return 0
  const match = /(^|,)\s*max-age\s*=\s*"?(\d+)"?/i.exec(cacheControl)
  return match ? Number(match[2]) : DEFAULT_MAX_AGE
}
