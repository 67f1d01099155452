// Which IP addresses an outbound request (JWKS, webhook) must never reach unless an operator allows the
// host: loopback, link-local and cloud metadata (SSRF). Pure: parses the text itself, no node:net.

export type ForbiddenRange = 'loopback' | 'link-local' | 'metadata' | 'unspecified'

/** The forbidden range `ip` falls in, or undefined; text that is not an IP address is undefined too. */
export function forbiddenRange(ip: string): ForbiddenRange | undefined {
  const bytes = parseIp(ip)
  if (!bytes) return undefined
  if (isZero(bytes, 0, 15) && bytes[15] === 1) return 'loopback' // ::1
  if (isZero(bytes, 0, 16)) return 'unspecified' // ::
  const v4 = embeddedIpv4(bytes)
  if (v4) return ipv4Range(v4)
  if (sameBytes(bytes, EC2_METADATA_V6)) return 'metadata'
  if (bytes[0] === 0xfe && ((bytes[1] as number) & 0xc0) === 0x80) return 'link-local' // fe80::/10
  return undefined
}

function ipv4Range([a, b, c, d]: number[]): ForbiddenRange | undefined {
  if (a === 127) return 'loopback' // 127.0.0.0/8
  // RFC 6890 "this network"; Linux connects 0.0.0.0 to the local host.
  if (a === 0) return 'unspecified'
  if (a === 169 && b === 254) return c === 169 && d === 254 ? 'metadata' : 'link-local' // 169.254.0.0/16
  return undefined
}

// fd00:ec2::254, the IPv6 address of the EC2 instance metadata service.
const EC2_METADATA_V6 = [0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54]

/**
 * The IPv4 address an IPv6 address stands for: IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96)
 * and the NAT64 well-known prefix (64:ff9b::/96, RFC 6052), which all reach the IPv4 address.
 */
function embeddedIpv4(bytes: number[]): number[] | undefined {
  const mapped = isZero(bytes, 0, 10) && bytes[10] === 0xff && bytes[11] === 0xff
  const compatible = isZero(bytes, 0, 12)
  const nat64 = bytes[0] === 0 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b && isZero(bytes, 4, 12)
  return mapped || compatible || nat64 ? bytes.slice(12) : undefined
}

/** An IPv4 or IPv6 address (brackets and zone allowed) as 16 bytes (IPv4 as ::ffff:a.b.c.d). */
export function parseIp(text: string): number[] | undefined {
  const bare = text.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '')
  const v4 = parseIpv4(bare)
  if (v4) return [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4]
  return parseIpv6(bare)
}

function parseIpv4(text: string): number[] | undefined {
  const parts = text.split('.')
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255)) return undefined
  return parts.map(Number)
}

function parseIpv6(text: string): number[] | undefined {
  if (!text.includes(':')) return undefined
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const groups = (half: string | undefined): number[] | undefined => {
    if (!half) return []
    const out: number[] = []
    const pieces = half.split(':')
    for (const [index, piece] of pieces.entries()) {
      const tail = index === pieces.length - 1 ? parseIpv4(piece) : undefined
      if (tail) out.push(...tail)
      else if (/^[0-9a-f]{1,4}$/i.test(piece))
        out.push(Number.parseInt(piece, 16) >> 8, Number.parseInt(piece, 16) & 0xff)
      else return undefined
    }
    return out
  }
  const head = groups(halves[0])
  const tail = groups(halves[1])
  if (!head || !tail) return undefined
  const missing = 16 - head.length - tail.length
  if (halves.length === 1 ? missing !== 0 : missing < 2) return undefined
  return [...head, ...new Array<number>(missing).fill(0), ...tail]
}

const isZero = (bytes: number[], from: number, to: number) => bytes.slice(from, to).every((byte) => byte === 0)
const sameBytes = (a: number[], b: number[]) => a.length === b.length && a.every((byte, index) => byte === b[index])
