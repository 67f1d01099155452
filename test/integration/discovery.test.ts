import { describe, expect, it } from 'vitest'
import { useDatabase } from '../support/database.ts'
import { useServer } from '../support/server.ts'

const t = useDatabase()
const server = useServer(t)

describe('discovery', () => {
  it('serves the same metadata at the OpenID and the RFC 8414 well-known paths', async () => {
    const openid = await fetch(`${server.url}/.well-known/openid-configuration`)
    const oauth = await fetch(`${server.url}/.well-known/oauth-authorization-server`)
    expect(openid.status).toBe(200)
    expect(oauth.status).toBe(200)
    const metadata = (await openid.json()) as Record<string, unknown>
    expect(await oauth.json()).toEqual(metadata)
    expect(metadata).toMatchObject({
      issuer: server.issuer,
      token_endpoint: `${server.issuer}/token`,
      jwks_uri: `${server.issuer}/jwks`,
      introspection_endpoint: `${server.issuer}/token/introspection`,
      revocation_endpoint: `${server.issuer}/token/revocation`,
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    })
    // Only what a Client document can be registered for (no authorization_code yet).
    expect(metadata.grant_types_supported).toEqual([
      'client_credentials',
      'urn:ietf:params:oauth:grant-type:token-exchange',
    ])
    expect(metadata.id_token_signing_alg_values_supported).toEqual(['ES256'])
    // No authorization endpoint is served yet, so no response type is offered (RFC 8414 §2).
    expect(metadata.response_types_supported).toEqual([])
    expect(metadata).not.toHaveProperty('authorization_endpoint')
  })

  it('serves the JWKS as application/jwk-set+json', async () => {
    const response = await fetch(`${server.url}/jwks`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('application/jwk-set+json; charset=utf-8')
    const { keys } = (await response.json()) as { keys: Array<Record<string, unknown>> }
    expect(keys.length).toBeGreaterThan(0)
    expect(keys.every((key: Record<string, unknown>) => !('d' in key))).toBe(true)
  })
})
