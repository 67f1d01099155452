// One measured run: autocannon drives one server with one workload's requests, rotating their bodies,
// and checks every answer; the server's and Postgres's CPU are sampled around it.
import { performance } from 'node:perf_hooks'
import autocannon from 'autocannon'
import { cpuMicros, postgresCpu, postgresCpuBetween } from './processes.ts'

export interface Plan {
  path: string
  authorization: string
  /** Sent in turn, one per request. */
  bodies: readonly string[]
  status: number
  /** The bodies' media type (default a form). */
  contentType?: string
  /** False: a wrong answer (for example active:true for a token of a completed task). */
  isRight?: (index: number, body: string) => boolean
  /** Sees every answer, with when its request was sent and its answer received (performance.now()); false: wrong. */
  observe?: (answer: { index: number; status: number; body: string; sentAt: number; receivedAt: number }) => boolean
  /** Runs beside the load, from its start. */
  during?: () => Promise<void>
}

export interface Measurement {
  rps: number
  p50: number
  p99: number
  requests: number
  errors: number
  wrong: number
  /** Answers by status, and transport errors as "error". */
  statuses: Record<string, number>
  serverCpuPerRequest: number
  postgresCpuPerRequest: number
}

interface Slot {
  index: number
  sentAt: number
}

export async function measure(
  origin: string,
  pid: number,
  plan: Plan,
  options: { connections: number; seconds: number; databases: readonly string[] },
): Promise<Measurement> {
  let next = 0
  let wrongStatus = 0
  let wrong = 0
  const statuses: Record<string, number> = {}
  const headers = {
    authorization: plan.authorization,
    'content-type': plan.contentType ?? 'application/x-www-form-urlencoded',
  }
  const request = {
    method: 'POST' as const,
    path: plan.path,
    headers,
    setupRequest: (req: autocannon.Request, context: Record<string, unknown>) => {
      const index = next++ % plan.bodies.length
      context.slot = { index, sentAt: performance.now() } satisfies Slot
      return { ...req, body: plan.bodies[index] as string }
    },
    onResponse: (status: number, body: string, context: Record<string, unknown>) => {
      const { index, sentAt } = context.slot as Slot
      statuses[status] = (statuses[status] ?? 0) + 1
      if (status !== plan.status) wrongStatus++
      else if (plan.isRight && !plan.isRight(index, body)) wrong++
      if (plan.observe?.({ index, status, body, sentAt, receivedAt: performance.now() }) === false) wrong++
    },
  }
  const serverBefore = cpuMicros(pid)
  const postgresBefore = postgresCpu(options.databases)
  const [result] = await Promise.all([
    autocannon({
      url: origin,
      connections: options.connections,
      duration: options.seconds,
      requests: [request as unknown as autocannon.Request],
    }),
    plan.during?.(),
  ])
  const serverCpu = cpuMicros(pid) - serverBefore
  const postgres = postgresCpuBetween(postgresBefore, postgresCpu(options.databases))
  const requests = Math.max(1, result.requests.total)
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    errors: result.errors + result.timeouts + wrongStatus + wrong,
    wrong,
    statuses: { ...statuses, ...(result.errors + result.timeouts ? { error: result.errors + result.timeouts } : {}) },
    serverCpuPerRequest: serverCpu / requests,
    postgresCpuPerRequest: postgres / requests,
  }
}
