// `npm run bench`: Mandate and two baselines built on the same oidc-provider (bench/baseline.ts), driven
// by the same load generator from this process, interleaved (bare, row, Mandate for each workload), in
// rounds, at each connection count. Medians of the rounds; prints them and writes bench/results/.
// Measures; asserts nothing. Not part of `npm test`. How to read it: docs/performance.md.
import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import pg from 'pg'
import { type Measurement, measure } from './load.ts'
import { pinLoadGenerator, pinned } from './processes.ts'
import { type Cell, key, type Results, table } from './report.ts'
import { startBaseline, startMandate, type Target } from './servers.ts'
import { type StormNotes, WORKLOADS } from './workloads.ts'

const base =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const connectionCounts = (process.env.BENCH_CONNECTIONS ?? '16,64').split(',').map(Number)
// A comma-separated subset of workload names, for working on one of them.
const only = process.env.BENCH_WORKLOADS?.split(',').map((name) => name.trim())
const workloads = WORKLOADS.filter((w) => !only || only.some((name) => w.name.startsWith(name)))
// A comma-separated subset of servers (baseline-bare, baseline-row, mandate), for profiling one of them.
const servers = process.env.BENCH_SERVERS?.split(',').map((name) => name.trim())
const wanted = (name: string) => !servers || servers.includes(name)
const root = new URL('../', import.meta.url)

const suffix = randomUUID().replaceAll('-', '').slice(0, 12)
const databases = [`mandate_bench_${suffix}`, `mandate_bench_row_${suffix}`]
const withDatabase = (name: string) => Object.assign(new URL(base), { pathname: `/${name}` }).href
const admin = new pg.Client({ connectionString: base })
await admin.connect()
for (const name of databases) await admin.query(`create database ${name}`)
const targets: Target[] = []
const loadBefore = loadavg()
const samples = new Map<string, Cell[]>()

try {
  pinLoadGenerator()
  if (wanted('baseline-bare')) targets.push(await startBaseline())
  if (wanted('baseline-row')) targets.push(await startBaseline(withDatabase(databases[1] as string)))
  if (wanted('mandate')) targets.push(await startMandate(withDatabase(databases[0] as string)))
  const run = async (workload: (typeof workloads)[number], target: Target, connections: number, duration: number) => {
    const { plan, notes } = await workload.plan(target, { seconds: duration })
    const before = await groupSizes(target)
    const measurement = await measure(target.origin, target.pid, plan, { connections, seconds: duration, databases })
    const groups = groupMeans(before, await groupSizes(target))
    return { measurement, ...(notes ? { storm: notes() } : {}), ...(groups ? { groups } : {}) }
  }

  log(`warming up (1 s per workload and server, ${connectionCounts[0]} connections)`)
  for (const workload of workloads) {
    for (const target of targets) {
      if (workload.servers.includes(target.name) && !workload.name.startsWith('revocation')) {
        await run(workload, target, connectionCounts[0] as number, 1)
      }
    }
  }
  for (let round = 1; round <= rounds; round++) {
    for (const connections of connectionCounts) {
      for (const workload of workloads) {
        for (const target of targets) {
          if (!workload.servers.includes(target.name)) continue
          const cell = await run(workload, target, connections, seconds)
          const id = key(connections, workload.name, target.name)
          samples.set(id, [...(samples.get(id) ?? []), cell])
          const m = cell.measurement
          log(
            `round ${round}/${rounds} ${connections} conn: ${workload.name} @ ${target.name}: ` +
              `${Math.round(m.rps)} req/s, p99 ${m.p99} ms, ${m.errors} errors (${m.wrong} wrong answers; ${JSON.stringify(m.statuses)})` +
              (cell.groups ? `; calls per statement ${JSON.stringify(cell.groups)}` : ''),
          )
        }
      }
    }
  }

  const results: Results = new Map([...samples].map(([id, cells]) => [id, medianCell(cells)]))
  const sha = git('rev-parse', '--short', 'HEAD')
  const dirty = git('status', '--porcelain', '--', 'src', 'bench', 'migrations') ? ' (with uncommitted changes)' : ''
  const date = new Date().toISOString()
  const report = [
    `# Bench ${date.slice(0, 10)} at ${sha}${dirty}`,
    '',
    `- machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores; servers ${pinned ? 'pinned to core 1 (taskset), load generator to core 0' : 'not pinned (no taskset)'}; Postgres on the same machine, unpinned`,
    `- Node ${process.version}; ${new Date(date).toUTCString()}; git ${git('rev-parse', 'HEAD')}${dirty}`,
    `- load average (1, 5, 15 min) at the start ${loadBefore.map((n) => n.toFixed(2)).join(', ')}, at the end ${loadavg()
      .map((n) => n.toFixed(2))
      .join(', ')}: above ~0.5 other work shared the machine and the numbers are noisier`,
    `- ${rounds} rounds of ${seconds} s per workload and server, interleaved; each cell is the median of the rounds (errors: their sum)`,
    '- errors: answers with another status than expected (200, or 400 for a refusal) + transport errors + wrong answers',
    '',
    ...connectionCounts.map((connections) => `${table(results, workloads, connections)}\n`),
  ].join('\n')
  process.stdout.write(`\n${report}`)
  mkdirSync(new URL('bench/results/', root), { recursive: true })
  const file = new URL(`bench/results/${date.slice(0, 10)}-${sha}.md`, root)
  writeFileSync(file, report)
  log(`written to ${file.pathname}`)
} finally {
  for (const target of targets) await target.stop()
  for (const name of databases) await admin.query(`drop database if exists ${name} with (force)`)
  await admin.end()
}

/** Sum and count of mandate_db_group_size per kind, scraped from the server's metrics. */
async function groupSizes(target: Target): Promise<Map<string, { sum: number; count: number }> | undefined> {
  if (!target.metricsUrl) return undefined
  const text = await (await fetch(target.metricsUrl)).text()
  const sizes = new Map<string, { sum: number; count: number }>()
  for (const [, part, kind, value] of text.matchAll(/^mandate_db_group_size_(sum|count)\{kind="([^"]+)"\} (\S+)$/gm)) {
    const entry = sizes.get(kind as string) ?? { sum: 0, count: 0 }
    entry[part as 'sum' | 'count'] = Number(value)
    sizes.set(kind as string, entry)
  }
  return sizes
}

function groupMeans(
  before: Map<string, { sum: number; count: number }> | undefined,
  after: Map<string, { sum: number; count: number }> | undefined,
): Record<string, number> | undefined {
  if (!after) return undefined
  const means: Record<string, number> = {}
  for (const [kind, { sum, count }] of after) {
    const statements = count - (before?.get(kind)?.count ?? 0)
    if (statements > 0) means[kind] = (sum - (before?.get(kind)?.sum ?? 0)) / statements
  }
  return means
}

function log(line: string): void {
  process.stderr.write(`${line}\n`)
}

function git(...args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim()
  } catch {
    return 'unknown'
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

function sumCounts(counts: Record<string, number>[]): Record<string, number> {
  const total: Record<string, number> = {}
  for (const count of counts) for (const [name, n] of Object.entries(count)) total[name] = (total[name] ?? 0) + n
  return total
}

function medianCell(cells: Cell[]): Cell {
  const of = <T>(pick: (cell: Cell) => T) => cells.map(pick)
  const measurement: Measurement = {
    rps: median(of((c) => c.measurement.rps)),
    p50: median(of((c) => c.measurement.p50)),
    p99: median(of((c) => c.measurement.p99)),
    requests: median(of((c) => c.measurement.requests)),
    errors: of((c) => c.measurement.errors).reduce((a, b) => a + b, 0),
    wrong: of((c) => c.measurement.wrong).reduce((a, b) => a + b, 0),
    statuses: sumCounts(of((c) => c.measurement.statuses)),
    serverCpuPerRequest: median(of((c) => c.measurement.serverCpuPerRequest)),
    postgresCpuPerRequest: median(of((c) => c.measurement.postgresCpuPerRequest)),
  }
  const kinds = [...new Set(cells.flatMap((c) => Object.keys(c.groups ?? {})))]
  const groups = Object.fromEntries(
    kinds.map((kind) => [kind, median(cells.flatMap((c) => (c.groups?.[kind] === undefined ? [] : [c.groups[kind]])))]),
  )
  const storms = cells.flatMap((c) => (c.storm ? [c.storm] : []))
  if (storms.length === 0) return { measurement, ...(kinds.length > 0 ? { groups } : {}) }
  const storm: StormNotes = {
    revokedTokens: median(storms.map((s) => s.revokedTokens)),
    completionMs: median(storms.map((s) => s.completionMs)),
    lastActiveMs: median(storms.map((s) => s.lastActiveMs)),
    p99DuringMs: median(storms.map((s) => s.p99DuringMs)),
  }
  return { measurement, storm, ...(kinds.length > 0 ? { groups } : {}) }
}
