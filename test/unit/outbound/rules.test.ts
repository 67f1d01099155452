import { describe, expect, it } from 'vitest'
import { forbiddenRange, parseIp } from '../../../src/outbound/address.ts'
import { type OutboundRules, requestProblem, urlProblem } from '../../../src/outbound/rules.ts'

describe('forbiddenRange', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['::127.0.0.1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['169.254.169.254', 'metadata'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['FD00:EC2:0:0:0:0:0:254', 'metadata'],
    ['169.254.0.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf:ffff::1', 'link-local'],
  ])('%s is %s', (ip, range) => {
    expect(forbiddenRange(ip)).toBe(range)
  })

  it.each([
    '8.8.8.8',
    '10.0.0.1',
    '192.168.1.1',
    '100.100.100.200',
    '169.255.0.1',
    '128.0.0.1',
    '2001:db8::1',
    'fec0::1',
    'fd00:ec2::253',
    '::ffff:8.8.8.8',
    'example.com',
    'localhost',
    '1.2.3',
    '1.2.3.256',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
  ])('%s is not forbidden (or not an address)', (ip) => {
    expect(forbiddenRange(ip)).toBeUndefined()
  })

  it('parses IPv6 with an embedded IPv4 tail and the :: gap', () => {
    expect(parseIp('::ffff:1.2.3.4')).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 1, 2, 3, 4])
    expect(parseIp('1:2::8')).toEqual([0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8])
    expect(parseIp('1.2.3.4')).toEqual(parseIp('::ffff:102:304'))
  })
})

describe('urlProblem', () => {
  const open: OutboundRules = { requireHttps: false, allowHosts: [] }
  const hint = 'unless MANDATE_OUTBOUND__ALLOW_HOSTS lists it'

  it.each([
    ['http://169.254.169.254/latest', `must not point at a metadata address (169.254.169.254) ${hint}`],
    ['http://[fd00:ec2::254]/', `must not point at a metadata address (fd00:ec2::254) ${hint}`],
    ['http://2130706433/', `must not point at a loopback address (127.0.0.1) ${hint}`],
    ['http://0x7f.1/', `must not point at a loopback address (127.0.0.1) ${hint}`],
    ['http://[0:0:0:0:0:ffff:7f00:1]/', `must not point at a loopback address (::ffff:7f00:1) ${hint}`],
    ['http://LOCALHOST./x', `must not point at a loopback address (localhost) ${hint}`],
    ['http://api.localhost/x', `must not point at a loopback address (api.localhost) ${hint}`],
    ['http://[fe80::1]:8080/', `must not point at a link-local address (fe80::1) ${hint}`],
    ['ftp://example.com/', 'must be an https URL'],
    ['not a url', 'not a URL'],
  ])('refuses %s', (url, problem) => {
    expect(urlProblem(url, open)).toBe(problem)
  })

  it('accepts ordinary hosts, private networks included', () => {
    for (const url of ['https://idp.example.com/jwks', 'http://10.0.0.5/events', 'https://[2001:db8::1]/'])
      expect(urlProblem(url, open)).toBeUndefined()
  })

  it('accepts a listed host in any spelling of the same address, and only that host', () => {
    const rules: OutboundRules = { requireHttps: false, allowHosts: ['127.0.0.1', '[::1]', 'LocalHost'] }
    expect(urlProblem('http://127.0.0.1:3000/jwks', rules)).toBeUndefined()
    expect(urlProblem('http://2130706433/jwks', rules)).toBeUndefined()
    expect(urlProblem('http://[0::1]/', rules)).toBeUndefined()
    expect(urlProblem('http://localhost/', rules)).toBeUndefined()
    expect(urlProblem('http://127.0.0.2/', rules)).toBe(`must not point at a loopback address (127.0.0.2) ${hint}`)
  })

  it('requires https when asked (production), allowed hosts included', () => {
    const production: OutboundRules = { requireHttps: true, allowHosts: ['127.0.0.1'] }
    expect(urlProblem('http://idp.example.com/jwks', production)).toBe('must be an https URL in production')
    expect(urlProblem('http://127.0.0.1/jwks', production)).toBe('must be an https URL in production')
    expect(urlProblem('https://idp.example.com/jwks', production)).toBeUndefined()
  })

  it('leaves names to DNS at request time, but judges IP literals before connecting', () => {
    expect(requestProblem(new URL('http://localhost/'), open)).toBeUndefined()
    expect(requestProblem(new URL('http://[::1]/'), open)).toBe(`must not point at a loopback address (::1) ${hint}`)
  })
})
