// The one way the server fetches a URL an operator configured (JWKS, webhooks): the URL rules again, then
// every address DNS answers is checked before connecting, so a name that resolves (or rebinds) to
// loopback, link-local or metadata is refused. No redirects are followed, no connection is pooled.
import { type LookupAddress, lookup as dnsLookup } from 'node:dns'
import http from 'node:http'
import https from 'node:https'
import type { LookupFunction } from 'node:net'
import { forbiddenRange } from './address.ts'
import { hostOf, isAllowedHost, type OutboundRules, requestProblem } from './rules.ts'

/** Responses larger than this are refused: a JWKS or a webhook answer is a few kilobytes. */
const MAX_BODY = 1024 * 1024

export interface OutboundInit {
  method?: string
  headers?: ConstructorParameters<typeof Headers>[0]
  body?: string
  signal?: AbortSignal
}

/** fetch-shaped, so jose's customFetch and the webhook dispatcher can both use it. */
export type OutboundFetch = (url: string, init?: OutboundInit) => Promise<Response>

/** A request the outbound rules refused; nothing was sent. */
class OutboundRefused extends Error {
  override name = 'OutboundRefused'
}

export function outboundFetch(rules: OutboundRules): OutboundFetch {
  return async (input, init = {}) => {
    const url = new URL(input)
    const problem = requestProblem(url, rules)
    if (problem) throw new OutboundRefused(`${url.origin}: ${problem}`)
    const host = hostOf(url)
    // Node skips the lookup for an IP literal; requestProblem has judged the literal already.
    return await send(url, init, isAllowedHost(host, rules) ? undefined : guardedLookup)
  }
}

/** dns.lookup that fails when any answer is in a forbidden range (one bad answer is enough to refuse). */
const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, '', 0)
    const bad = addresses.find(({ address }) => forbiddenRange(address) !== undefined)
    if (bad) {
      const range = forbiddenRange(bad.address) as string
      return callback(new OutboundRefused(`${hostname} resolves to a ${range} address (${bad.address})`), '', 0)
    }
    const [first] = addresses
    if (options.all) return callback(null, addresses)
    if (!first) return callback(new OutboundRefused(`${hostname} has no address`), '', 0)
    return callback(null, first.address, first.family)
  })
}

function send(url: URL, init: OutboundInit, lookup: LookupFunction | undefined): Promise<Response> {
  const { signal } = init
  return new Promise((resolve, reject) => {
    const fail = (error: unknown) => reject(signal?.aborted ? signal.reason : error)
    const request = (url.protocol === 'https:' ? https : http).request(
      url,
      {
        method: init.method ?? 'GET',
        headers: Object.fromEntries(new Headers(init.headers).entries()),
        agent: false,
        ...(signal ? { signal } : {}),
        ...(lookup ? { lookup } : {}),
      },
      (response) => {
        const chunks: Buffer[] = []
        let size = 0
        response.on('data', (chunk: Buffer) => {
          size += chunk.length
          if (size > MAX_BODY) response.destroy(new OutboundRefused(`${url.origin}: response larger than 1 MiB`))
          else chunks.push(chunk)
        })
        response.on('error', fail)
        response.on('close', () => {
          if (!response.complete) fail(new Error(`${url.origin}: connection closed before the response ended`))
        })
        response.on('end', () => {
          const status = response.statusCode ?? 502
          const headers = new Headers()
          for (const [name, value] of Object.entries(response.headers)) {
            for (const one of [value ?? []].flat()) headers.append(name, one)
          }
          const empty = [204, 205, 304].includes(status)
          try {
            resolve(new Response(empty ? null : Buffer.concat(chunks), { status, headers }))
          } catch (error) {
            fail(error) // a status outside 200-599
          }
        })
      },
    )
    request.on('error', fail)
    request.end(init.body)
  })
}
