// `node bench/verify-micro.ts`: one of our ES256 access tokens verified ~20k times by jose's jwtVerify
// (WebCrypto, the verifier before issue 10) and by verifyAccessToken (synchronous node:crypto).
// Interleaved rounds; µs per verification, one at a time and 16 in flight. Measures; asserts nothing.
import { generateKeyPairSync, sign, verify } from 'node:crypto'
import { cpus } from 'node:os'
import { errors as joseErrors, jwtVerify } from 'jose'
import { type VerifyDeps, verifyAccessToken } from '../src/keys/verify-access-token.ts'

const iterations = Number(process.env.BENCH_ITERATIONS ?? 20_000)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const now = Math.floor(Date.now() / 1000)
const issuer = 'http://127.0.0.1:3000'
const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })

const deps: VerifyDeps = {
  // The ring's lookup is the same in both paths, so it is a map hit here.
  ring: { verificationKey: async (kid) => (kid === 'k1' ? publicKey : undefined) },
  issuer,
  clock: { now: () => now },
  clockTolerance: 15,
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const input = `${b64({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })}.${b64({
  jti: 'Xk2v0c9Zr4yq1wz7p5n3m8b6t0h2j4k6l8',
  sub: 'person-1',
  iat: now,
  exp: now + 300,
  scope: 'orders:read orders:write',
  client_id: 'agent-1',
  iss: issuer,
  aud: 'https://api.example/orders',
  act: { sub: 'agent-1' },
})}`
const token = `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`

async function viaJose(jwt: string) {
  try {
    const { payload } = await jwtVerify(
      jwt,
      async (header) => {
        const key = header.kid === undefined ? undefined : await deps.ring.verificationKey(header.kid)
        if (!key) throw new joseErrors.JWKSNoMatchingKey()
        return key
      },
      {
        issuer: deps.issuer,
        typ: 'at+jwt',
        algorithms: ['ES256'],
        clockTolerance: deps.clockTolerance,
        currentDate: new Date(deps.clock.now() * 1000),
        requiredClaims: ['jti', 'sub', 'aud', 'client_id', 'exp', 'iat'],
      },
    )
    return payload
  } catch (error) {
    if (error instanceof joseErrors.JOSEError) return undefined
    throw error
  }
}
const viaNodeCrypto = (jwt: string) => verifyAccessToken(jwt, deps)

// The ECDSA step alone, both ways node:crypto offers it: on the main thread, or (with a callback) on
// libuv's thread pool like WebCrypto. The second trades a little CPU for an event loop left free.
const signingInput = Buffer.from(input)
const signature = Buffer.from(token.split('.')[2] as string, 'base64url')
const key = { key: publicKey, dsaEncoding: 'ieee-p1363' } as const
const signatureSync = async () => verify('sha256', signingInput, key, signature)
const signatureInPool = () =>
  new Promise<boolean>((resolve, reject) =>
    verify('sha256', signingInput, key, signature, (error, ok) => (error ? reject(error) : resolve(ok))),
  )

type Verifier = (jwt: string) => Promise<unknown>

/**
 * µs per verification, `inFlight` verifications awaited together: wall time, CPU of the whole process
 * (WebCrypto verifies on libuv's thread pool) and of the main thread alone.
 */
async function measure(verifier: Verifier, inFlight: number): Promise<Record<'wall' | 'cpu' | 'main', number>> {
  const cpu = process.cpuUsage()
  const thread = process.threadCpuUsage()
  const start = process.hrtime.bigint()
  for (let i = 0; i < iterations; i += inFlight) {
    const batch = await Promise.all(Array.from({ length: inFlight }, () => verifier(token)))
    if (batch.some((result) => !result)) throw new Error('the benchmark token was refused')
  }
  const wall = Number(process.hrtime.bigint() - start) / 1000 / iterations
  const used = process.cpuUsage(cpu)
  const main = process.threadCpuUsage(thread)
  return { wall, cpu: (used.user + used.system) / iterations, main: (main.user + main.system) / iterations }
}

const median = (values: number[]) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)] as number
const verifiers: Array<[string, Verifier]> = [
  ['jose jwtVerify (WebCrypto)', viaJose],
  ['verifyAccessToken (node:crypto)', viaNodeCrypto],
  ['signature only: crypto.verify', signatureSync],
  ['signature only: crypto.verify + callback', signatureInPool],
]

for (const [, verifier] of verifiers) await measure(verifier, 1) // warm-up: JIT, key caches

console.log(
  `Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} ×${cpus().length}, ${new Date().toISOString()}`,
)
console.log(`${iterations} verifications per measurement, median of ${rounds} interleaved rounds\n`)
type Samples = Record<'wall' | 'cpu' | 'main', Record<1 | 16, number[]>>
const samples = verifiers.map(
  (): Samples => ({ wall: { 1: [], 16: [] }, cpu: { 1: [], 16: [] }, main: { 1: [], 16: [] } }),
)
for (let round = 0; round < rounds; round++) {
  for (const inFlight of [1, 16] as const) {
    for (const [index, [, verifier]] of verifiers.entries()) {
      const measured = await measure(verifier, inFlight)
      for (const kind of ['wall', 'cpu', 'main'] as const) samples[index]![kind][inFlight].push(measured[kind])
    }
  }
}

console.table(
  verifiers.map(([name], index) => {
    const { wall, cpu, main } = samples[index]!
    return {
      verifier: name,
      ...Object.fromEntries(
        ([1, 16] as const).flatMap((n) => [
          [`wall µs/op (${n} in flight)`, median(wall[n]).toFixed(1)],
          [`CPU µs/op (${n})`, median(cpu[n]).toFixed(1)],
          [`main thread µs/op (${n})`, median(main[n]).toFixed(1)],
        ]),
      ),
    }
  }),
)
const [jose, ours] = samples as [Samples, Samples]
const ratio = (kind: keyof Samples, n: 1 | 16) => (median(jose[kind][n]) / median(ours[kind][n])).toFixed(2)
for (const n of [1, 16] as const)
  console.log(
    `jose / node:crypto, ${n} in flight: wall ×${ratio('wall', n)}, CPU ×${ratio('cpu', n)}, main thread ×${ratio('main', n)}`,
  )
