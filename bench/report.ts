// The results as Markdown: per connection count, one row per workload and server (medians of the
// rounds), Mandate's req/s over each baseline's, a refusal's req/s over its success's, and the storm.
import type { Measurement } from './load.ts'
import type { ServerName } from './servers.ts'
import { SERVER_NAMES } from './servers.ts'
import type { StormNotes, Workload } from './workloads.ts'

export interface Cell {
  measurement: Measurement
  storm?: StormNotes
  /** Mandate: calls per statement of the group commit (mean), by kind (mandate_db_group_size). */
  groups?: Record<string, number>
}

/** Medians of the rounds, keyed by `${connections} ${workload} ${server}`. */
export type Results = Map<string, Cell>
export const key = (connections: number, workload: string, server: ServerName) => `${connections} ${workload} ${server}`

const number = (value: number, digits = 0) =>
  value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? '—' : `${number(a / b, 2)}×`

export function table(results: Results, workloads: readonly Workload[], connections: number): string {
  const lines = [
    `### ${connections} connections`,
    '',
    '| workload | server | req/s | p50 ms | p99 ms | errors | server CPU µs/req | Postgres CPU µs/req | Mandate ÷ bare | Mandate ÷ row | ÷ its success |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ]
  const rps = (workload: string, server: ServerName) => results.get(key(connections, workload, server))?.measurement.rps
  for (const workload of workloads) {
    for (const server of SERVER_NAMES) {
      const m = results.get(key(connections, workload.name, server))?.measurement
      if (!m) {
        lines.push(`| ${workload.name} | ${server} | — | — | — | — | — | — | | | |`)
        continue
      }
      const mandate = server === 'mandate'
      lines.push(
        `| ${workload.name} | ${server} | ${number(m.rps)} | ${m.p50} | ${m.p99} | ${m.errors} | ` +
          `${number(m.serverCpuPerRequest)} | ${number(m.postgresCpuPerRequest)} | ` +
          `${mandate ? ratio(m.rps, rps(workload.name, 'baseline-bare')) : ''} | ` +
          `${mandate ? ratio(m.rps, rps(workload.name, 'baseline-row')) : ''} | ` +
          `${workload.success ? ratio(m.rps, rps(workload.success, server)) : ''} |`,
      )
    }
  }
  const storms = workloads.flatMap((w) => {
    const storm = results.get(key(connections, w.name, 'mandate'))?.storm
    return storm ? [storm] : []
  })
  for (const storm of storms) {
    lines.push(
      '',
      `Revocation storm: the completion revoked ${storm.revokedTokens} tokens in ${number(storm.completionMs, 1)} ms; ` +
        `the last \`active: true\` answer arrived ${number(storm.lastActiveMs, 1)} ms after it began; ` +
        `introspection p99 while it ran: ${number(storm.p99DuringMs, 1)} ms.`,
    )
  }
  for (const workload of workloads) {
    if (!workload.versus) continue
    const [mine, theirs] = [key(connections, workload.name, 'mandate'), key(connections, workload.versus, 'mandate')]
    const [a, b] = [results.get(mine)?.measurement, results.get(theirs)?.measurement]
    if (a && b)
      lines.push(
        '',
        `${workload.name} ÷ ${workload.versus}: ${ratio(a.rps, b.rps)} req/s; p99 ${a.p99} ms against ${b.p99} ms.`,
      )
  }
  const grouped = workloads.flatMap((w) => {
    const groups = results.get(key(connections, w.name, 'mandate'))?.groups
    const kinds = Object.entries(groups ?? {}).map(([kind, mean]) => `${kind} ${number(mean, 1)}`)
    return kinds.length > 0 ? [`- ${w.name}: ${kinds.join(', ')}`] : []
  })
  if (grouped.length > 0) lines.push('', 'Group commit (Mandate): calls per statement, mean, by kind:', '', ...grouped)
  return lines.join('\n')
}
