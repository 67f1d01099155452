// Each process compares its clock with the database's: beyond MANDATE_CLOCK_TOLERANCE it logs an error
// and reports not ready (the load balancer takes it out), instead of calling expired tokens active.
// Two real apps on one database: one an hour ahead, one within the tolerance.
import { describe, expect, it } from 'vitest'
import { type Clock, systemClock } from '../../src/lib/clock.ts'
import { createLog } from '../../src/observability/log.ts'
import { useDatabase } from '../support/database.ts'
import { useServer } from '../support/server.ts'

const t = useDatabase()
const shifted = (seconds: number): Clock => ({ now: () => systemClock.now() + seconds })

/** A log whose lines the test reads back. */
function capturedLog() {
  const lines: Array<Record<string, unknown>> = []
  const log = createLog('info', { write: (line: string) => void lines.push(JSON.parse(line)) })
  return { log, lines }
}

const skewed = capturedLog()
// The close one first: it creates the signing key, active from its (the true) time.
const close = useServer(t, { clock: shifted(5) })
const ahead = useServer(t, { clock: shifted(3600), log: skewed.log })

async function ready(managementUrl: string) {
  const response = await fetch(`${managementUrl}/health/ready`)
  const body = (await response.json()) as {
    status: string
    checks: Array<{ name: string; status: string; data?: Record<string, unknown> }>
  }
  return { status: response.status, body, clock: body.checks.find((check) => check.name === 'clock') }
}

describe('the clock check', () => {
  it('reports not ready and logs an error when the process clock is an hour off the database', async () => {
    const answer = await ready(ahead.managementUrl)
    expect(answer.status).toBe(503)
    expect(answer.body.status).toBe('DOWN')
    expect(answer.clock).toMatchObject({ name: 'clock', status: 'DOWN', data: { tolerance_s: 15 } })
    expect(Math.round(answer.clock?.data?.offset_s as number)).toBeGreaterThanOrEqual(-3602)
    expect(Math.round(answer.clock?.data?.offset_s as number)).toBeLessThanOrEqual(-3598)
    // Everything else is fine: the clock alone takes it out.
    expect(answer.body.checks.filter((check) => check.status === 'DOWN').map((check) => check.name)).toEqual(['clock'])
    expect(skewed.lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        msg: 'clock differs from the database beyond the tolerance: not ready',
        tolerance_s: 15,
      }),
    )
  })

  it('stays ready within the tolerance', async () => {
    const answer = await ready(close.managementUrl)
    expect(answer.status).toBe(200)
    expect(answer.clock).toMatchObject({ name: 'clock', status: 'UP', data: { tolerance_s: 15 } })
  })

  it('exports the measured offset as a metric', async () => {
    const metrics = await (await fetch(`${ahead.managementUrl}/metrics`)).text()
    const line = metrics.split('\n').find((text) => text.startsWith('mandate_clock_offset_seconds '))
    expect(Number(line?.split(' ')[1])).toBeLessThan(-3590)
  })
})
