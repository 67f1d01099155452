import { describe, expect, it } from 'vitest'
import {
  checkResourceUri,
  metadataPaths,
  metadataUrl,
  protectedResourceMetadata,
} from '../../../sdk/resource-server/metadata.ts'

describe('RFC 9728 §3.1 metadata location', () => {
  it.each([
    ['https://api.test/', 'https://api.test/.well-known/oauth-protected-resource'],
    ['https://api.test', 'https://api.test/.well-known/oauth-protected-resource'],
    ['https://api.test/v1', 'https://api.test/.well-known/oauth-protected-resource/v1'],
    ['https://api.test/v1/', 'https://api.test/.well-known/oauth-protected-resource/v1/'],
    ['https://API.test:443/mcp', 'https://api.test/.well-known/oauth-protected-resource/mcp'],
    ['http://127.0.0.1:8080/api', 'http://127.0.0.1:8080/.well-known/oauth-protected-resource/api'],
  ])('for %s is %s', (resource, url) => {
    expect(metadataUrl(resource)).toBe(url)
  })

  it('is served at the §3.1 path and at the bare well-known path', () => {
    expect(metadataPaths('https://api.test/v1')).toEqual([
      '/.well-known/oauth-protected-resource/v1',
      '/.well-known/oauth-protected-resource',
    ])
    expect(metadataPaths('https://api.test/')).toEqual(['/.well-known/oauth-protected-resource'])
  })

  it.each([
    'https://api.test/?a=1',
    'https://api.test/#f',
    'https://api.test/#',
    'urn:example:api',
    'ftp://api.test/',
    '/relative',
  ])('refuses %s as a resource identifier', (resource) => {
    expect(() => checkResourceUri(resource)).toThrow(TypeError)
  })
})

describe('the metadata document', () => {
  const base = {
    resource: 'https://api.test/',
    issuer: 'https://as.test',
    dpopAlgorithms: ['ES256'],
    dpopRequired: false,
  }

  it('states the resource, its authorization server, header-only bearer use and DPoP support', () => {
    expect(protectedResourceMetadata(base)).toEqual({
      resource: 'https://api.test/',
      authorization_servers: ['https://as.test'],
      bearer_methods_supported: ['header'],
      dpop_signing_alg_values_supported: ['ES256'],
      dpop_bound_access_tokens_required: false,
    })
  })

  it('adds the name and scopes when given', () => {
    expect(
      protectedResourceMetadata({ ...base, resourceName: 'API', scopesSupported: ['a', 'b'], dpopRequired: true }),
    ).toMatchObject({ resource_name: 'API', scopes_supported: ['a', 'b'], dpop_bound_access_tokens_required: true })
  })
})
