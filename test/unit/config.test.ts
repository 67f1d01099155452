import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError, envName, loadConfig } from '../../src/config/load.ts'

const key = Buffer.alloc(32, 1).toString('base64')
const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env)
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  return []
}

describe('loadConfig', () => {
  it('applies the defaults for the embedded development database', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({
      port: 3000,
      adminPort: 3001,
      managementPort: 9000,
      host: '127.0.0.1',
      logLevel: 'info',
      migrate: 'auto',
      dataDir: './.mandate',
      clockTolerance: 15,
      keys: { publishDelay: 600, refreshInterval: 30 },
      shutdownDelay: 5,
      shutdownTimeout: 30,
      databaseTimeout: 2,
      janitor: { interval: 300, tokenRetention: 7 * 86400, webhookRetention: 7 * 86400 },
    })
    // Decisions and audit events are kept unless a retention is set.
    expect(config.janitor.decisionRetention).toBeUndefined()
    expect(config.janitor.auditRetention).toBeUndefined()
    expect(config.databaseUrl).toBeUndefined()
    expect(config.issuer).toBeUndefined()
  })

  it.each(['https://auth.example.com/', 'https://auth.example.com/mandate', 'https://auth.example.com?x=1'])(
    'refuses an issuer that is not a bare origin: %s',
    (issuer) => {
      expect(problems({ MANDATE_ISSUER: issuer })).toEqual([
        'MANDATE_ISSUER: must be an origin without a path, query or trailing slash (for example https://auth.example.com)',
      ])
    },
  )

  it('reads nested settings from __ names and lists of master keys from commas', () => {
    const other = Buffer.alloc(32, 2).toString('base64url')
    const config = loadConfig({
      MANDATE_DATABASE_URL: 'postgres://db/mandate',
      MANDATE_ISSUER: 'https://auth.example',
      MANDATE_MASTER_KEY: `${key},${other}`,
      MANDATE_KEYS__PUBLISH_DELAY: '15m',
      MANDATE_PORT: '8080',
      UNRELATED: 'ignored',
    })
    expect(config.keys.publishDelay).toBe(900)
    expect(config.port).toBe(8080)
    expect(config.masterKey?.map((k) => k.length)).toEqual([32, 32])
  })

  it('lets the shutdown delay be switched off, but not the timeout', () => {
    expect(loadConfig({ MANDATE_SHUTDOWN_DELAY: '0s' }).shutdownDelay).toBe(0)
    expect(problems({ MANDATE_SHUTDOWN_TIMEOUT: '0s' })).toEqual([
      'MANDATE_SHUTDOWN_TIMEOUT: must be a duration such as "90s", "5m", "2h" or "1d"',
    ])
  })

  it('requires an issuer and a master key with Postgres, each reported by env name', () => {
    expect(problems({ MANDATE_DATABASE_URL: 'postgres://db/mandate' })).toEqual([
      'MANDATE_ISSUER: required when MANDATE_DATABASE_URL is set',
      'MANDATE_MASTER_KEY: required when MANDATE_DATABASE_URL is set',
    ])
  })

  it('reports the settings Postgres requires together with every other invalid setting', () => {
    expect(problems({ MANDATE_DATABASE_URL: 'postgres://x/y', MANDATE_LOG_LEVEL: 'loud' })).toEqual([
      'MANDATE_LOG_LEVEL: Invalid option: expected one of "fatal"|"error"|"warn"|"info"|"debug"|"trace"|"silent"',
      'MANDATE_ISSUER: required when MANDATE_DATABASE_URL is set',
      'MANDATE_MASTER_KEY: required when MANDATE_DATABASE_URL is set',
    ])
    // A present but invalid value is reported once, as invalid, not also as missing.
    expect(problems({ MANDATE_DATABASE_URL: 'mysql://x', MANDATE_ISSUER: 'ftp://x', MANDATE_MASTER_KEY: key })).toEqual(
      ['MANDATE_ISSUER: Invalid URL', 'MANDATE_DATABASE_URL: Invalid URL'],
    )
  })

  it('refuses a key publish delay shorter than the refresh interval plus JWKS caching', () => {
    expect(problems({ MANDATE_KEYS__PUBLISH_DELAY: '60s', MANDATE_KEYS__REFRESH_INTERVAL: '30s' })).toEqual([
      'MANDATE_KEYS__PUBLISH_DELAY: must be at least the refresh interval plus 60s of JWKS caching (90s)',
    ])
    expect(problems({ MANDATE_KEYS__PUBLISH_DELAY: '90s', MANDATE_KEYS__REFRESH_INTERVAL: '30s' })).toEqual([])
  })

  it('refuses the embedded database under NODE_ENV=production', () => {
    expect(problems({ NODE_ENV: 'production' })).toEqual([
      'MANDATE_DATABASE_URL: required when NODE_ENV=production (the embedded database is for development only)',
    ])
  })

  it('fetches configured URLs over https only under NODE_ENV=production, and refuses switching that off', () => {
    const production = {
      NODE_ENV: 'production',
      MANDATE_DATABASE_URL: 'postgres://db/mandate',
      MANDATE_ISSUER: 'https://auth.example',
      MANDATE_MASTER_KEY: key,
    }
    expect(loadConfig(production).outbound).toEqual({ requireHttps: true, allowHosts: [] })
    expect(loadConfig({ ...production, MANDATE_OUTBOUND__REQUIRE_HTTPS: 'true' }).outbound.requireHttps).toBe(true)
    expect(problems({ ...production, MANDATE_OUTBOUND__REQUIRE_HTTPS: 'false' })).toEqual([
      'MANDATE_OUTBOUND__REQUIRE_HTTPS: must be true when NODE_ENV=production',
    ])
    expect(loadConfig({}).outbound).toEqual({ requireHttps: false, allowHosts: [] })
    expect(loadConfig({ MANDATE_OUTBOUND__REQUIRE_HTTPS: 'true' }).outbound.requireHttps).toBe(true)
    expect(problems({ MANDATE_OUTBOUND__REQUIRE_HTTPS: 'sometimes' })).toEqual([
      'MANDATE_OUTBOUND__REQUIRE_HTTPS: Invalid input',
    ])
  })

  it('reads the outbound allow-list as a comma-separated list', () => {
    expect(loadConfig({ MANDATE_OUTBOUND__ALLOW_HOSTS: '127.0.0.1,idp.internal' }).outbound.allowHosts).toEqual([
      '127.0.0.1',
      'idp.internal',
    ])
  })

  it('reports every problem at once', () => {
    expect(
      problems({
        MANDATE_PORT: '-1',
        MANDATE_MIGRATE: 'sometimes',
        MANDATE_ISSUER: 'ftp://x',
        MANDATE_KEYS__COLOUR: 'red',
      }),
    ).toEqual([
      'MANDATE_ISSUER: Invalid URL',
      'MANDATE_PORT: Too small: expected number to be >=0',
      'MANDATE_MIGRATE: Invalid option: expected one of "auto"|"check"|"off"',
      'MANDATE_KEYS__COLOUR: unknown setting',
    ])
  })

  it('bounds slow requests and rate-limits by default, with an off switch from env or a YAML boolean', () => {
    expect(loadConfig({})).toMatchObject({
      http: { headersTimeout: 10, bodyTimeout: 10, trustedProxies: 0 },
      rateLimits: {
        enabled: true,
        window: 60,
        failedAuthPerClient: 60,
        failedAuthPerAddress: 600,
        requestsPerClient: 12000,
        maxTracked: 50000,
      },
    })
    expect(loadConfig({ MANDATE_RATE_LIMITS__ENABLED: 'false' }).rateLimits.enabled).toBe(false)
    const file = join(mkdtempSync(join(tmpdir(), 'mandate-config-')), 'config.yaml')
    writeFileSync(file, 'rateLimits: { enabled: false }\nhttp: { bodyTimeout: 3s }\n')
    expect(loadConfig({}, { file })).toMatchObject({ rateLimits: { enabled: false }, http: { bodyTimeout: 3 } })
    expect(
      problems({ MANDATE_RATE_LIMITS__ENABLED: 'sometimes', MANDATE_RATE_LIMITS__REQUESTS_PER_CLIENT: '0' }),
    ).toEqual([
      expect.stringMatching(/^MANDATE_RATE_LIMITS__ENABLED: /),
      'MANDATE_RATE_LIMITS__REQUESTS_PER_CLIENT: Too small: expected number to be >=1',
    ])
  })

  it('derives env names from schema paths', () => {
    expect(envName(['keys', 'publishDelay'])).toBe('MANDATE_KEYS__PUBLISH_DELAY')
    expect(envName(['databaseUrl'])).toBe('MANDATE_DATABASE_URL')
  })
})
