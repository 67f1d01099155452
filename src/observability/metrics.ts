// Prometheus metrics on the management port. Labels are bounded: routes are templates, never paths.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { GroupCounts } from '../db/group.ts'

export interface Metrics {
  registry: Registry
  requestDuration: Histogram<'http_request_method' | 'http_route' | 'http_response_status_code' | 'listener'>
  tokensIssued: Counter<'grant_type'>
  tokensRevoked: Counter<'cause'>
  tokenExchanges: Counter<'result' | 'reason'>
  clientAuthFailures: Counter<'endpoint'>
  rateLimited: Counter<'limit'>
  janitorRuns: Counter<'outcome'>
  janitorPruned: Counter<'table'>
  clockOffset: Gauge
  /** Reports the group commit's calls (db/group.ts) of this database at every scrape. */
  observeGroups(counts: () => Map<string, GroupCounts>): void
  /** Calls per statement sent by the group commit, by kind. */
  groupSize: Histogram<'kind'>
}

export function createMetrics(): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  return {
    registry,
    requestDuration: new Histogram({
      name: 'http_server_request_duration_seconds',
      help: 'Duration of HTTP requests (OpenTelemetry http.server.request.duration).',
      labelNames: ['http_request_method', 'http_route', 'http_response_status_code', 'listener'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    tokensIssued: new Counter({
      name: 'mandate_tokens_issued_total',
      help: 'Access tokens issued (lineage row written), by grant type.',
      labelNames: ['grant_type'],
      registers: [registry],
    }),
    tokensRevoked: new Counter({
      name: 'mandate_tokens_revoked_total',
      help: 'Access tokens revoked, by cause.',
      labelNames: ['cause'],
      registers: [registry],
    }),
    tokenExchanges: new Counter({
      name: 'mandate_token_exchange_total',
      help: 'Token exchange decisions, by result (allow/deny) and stable reason code.',
      labelNames: ['result', 'reason'],
      registers: [registry],
    }),
    clientAuthFailures: new Counter({
      name: 'mandate_client_auth_failures_total',
      help: 'Requests answered 401 invalid_client (failed or missing client authentication), by endpoint.',
      labelNames: ['endpoint'],
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'mandate_rate_limited_total',
      help: 'Requests refused with 429 by a rate limit, by the limit that refused them.',
      labelNames: ['limit'],
      registers: [registry],
    }),
    janitorRuns: new Counter({
      name: 'mandate_janitor_runs_total',
      help: 'Janitor runs, by outcome: done, busy (another process held the lock) or failed.',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    janitorPruned: new Counter({
      name: 'mandate_janitor_pruned_rows_total',
      help: 'Expired rows the janitor deleted, by table.',
      labelNames: ['table'],
      registers: [registry],
    }),
    clockOffset: new Gauge({
      name: 'mandate_clock_offset_seconds',
      help: 'How far the database clock is ahead of this process clock (negative: behind), last measured.',
      registers: [registry],
    }),
    groupSize: new Histogram({
      name: 'mandate_db_group_size',
      help: 'Calls sharing one statement (group commit), by kind: 1 without load, larger under it.',
      labelNames: ['kind'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers: [registry],
    }),
    observeGroups(counts) {
      new Gauge({
        name: 'mandate_db_group_calls',
        help: 'Calls sharing statements (group commit), by kind and state: waiting for a statement, or sent in one not yet answered.',
        labelNames: ['kind', 'state'],
        registers: [registry],
        collect() {
          this.reset()
          for (const [kind, { waiting, sent }] of counts()) {
            this.set({ kind, state: 'waiting' }, waiting)
            this.set({ kind, state: 'sent' }, sent)
          }
        },
      })
    },
  }
}
