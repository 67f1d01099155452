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
      authorization_endpoint: `${server.issuer}/auth`,
      userinfo_endpoint: `${server.issuer}/me`,
      end_session_endpoint: `${server.issuer}/session/end`,
      pushed_authorization_request_endpoint: `${server.issuer}/request`,
      token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      code_challenge_methods_supported: ['S256'],
    })
    // Exactly what a Client document can be registered for.
    expect(metadata.grant_types_supported).toEqual([
      'client_credentials',
      'authorization_code',
      'refresh_token',
      'urn:ietf:params:oauth:grant-type:token-exchange',
    ])
    expect(metadata.id_token_signing_alg_values_supported).toEqual(['ES256'])
    // The code flow only (OAuth 2.1): no implicit or hybrid response types (RFC 8414 §2).
    expect(metadata.response_types_supported).toEqual(['code'])
    expect(metadata.scopes_supported).toEqual(['openid', 'offline_access', 'profile', 'email'])
    for (const unserved of [
      'registration_endpoint',
      'device_authorization_endpoint',
      'backchannel_authentication_endpoint',
    ])
      expect(metadata).not.toHaveProperty(unserved)
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
