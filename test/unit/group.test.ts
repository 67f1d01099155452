import { describe, expect, it } from 'vitest'
import { grouped } from '../../src/db/group.ts'

/** A statement whose runs are recorded and finished by hand. */
function controlledRun() {
  const runs: Array<{ inputs: readonly number[]; finish(): void; fail(error: unknown): void }> = []
  const run = (inputs: readonly number[]) =>
    new Promise<number[]>((resolve, reject) => {
      runs.push({ inputs, finish: () => resolve(inputs.map((n) => n * 10)), fail: reject })
    })
  return { run, runs }
}

const sqlError = (code: string) => Object.assign(new Error(`sqlstate ${code}`), { code })
const tick = () => new Promise((resolve) => setImmediate(resolve))

describe('grouped', () => {
  it('sends a call at once, alone, when nothing is running', async () => {
    const r = controlledRun()
    const call = grouped(r.run, { inFlight: 1, maxSize: 10, patience: 1000 })
    const answer = call(1)
    expect(r.runs.map((run) => run.inputs)).toEqual([[1]])
    r.runs[0]?.finish()
    expect(await answer).toBe(10)
  })

  it('never adds a call to a group already sent: callers waiting meanwhile leave together in the next', async () => {
    const r = controlledRun()
    const call = grouped(r.run, { inFlight: 1, maxSize: 10, patience: 1000 })
    const first = call(1)
    const waiting = [call(2), call(3), call(4)]
    expect(r.runs.map((run) => run.inputs)).toEqual([[1]])
    r.runs[0]?.finish()
    expect(await first).toBe(10)
    await tick()
    expect(r.runs.map((run) => run.inputs)).toEqual([[1], [2, 3, 4]])
    r.runs[1]?.finish()
    expect(await Promise.all(waiting)).toEqual([20, 30, 40])
  })

  it('answers a caller only when its own group has finished', async () => {
    const r = controlledRun()
    const call = grouped(r.run, { inFlight: 1, maxSize: 10, patience: 1000 })
    void call(1)
    let answered = false
    void call(2).then(() => (answered = true))
    r.runs[0]?.finish()
    await tick()
    expect(answered).toBe(false)
    r.runs[1]?.finish()
    await tick()
    expect(answered).toBe(true)
  })

  it('keeps up to inFlight groups running and caps a group at maxSize', async () => {
    const r = controlledRun()
    const call = grouped(r.run, { inFlight: 2, maxSize: 2, patience: 1000 })
    const answers = [1, 2, 3, 4, 5, 6].map((n) => call(n))
    expect(r.runs.map((run) => run.inputs)).toEqual([[1], [2]])
    r.runs[0]?.finish()
    await tick()
    expect(r.runs.map((run) => run.inputs)).toEqual([[1], [2], [3, 4]])
    r.runs[1]?.finish()
    await tick()
    r.runs[2]?.finish()
    await tick()
    r.runs[3]?.finish()
    expect(r.runs.map((run) => run.inputs)).toEqual([[1], [2], [3, 4], [5, 6]])
    expect(await Promise.all(answers)).toEqual([10, 20, 30, 40, 50, 60])
  })

  it("sends each call again alone when the group failed on one call's own fault; only that call fails", async () => {
    const seen: number[][] = []
    const call = grouped(
      async (inputs: readonly number[]) => {
        seen.push([...inputs])
        if (inputs.includes(3)) throw sqlError('23505')
        return inputs.map((n) => n * 10)
      },
      { inFlight: 1, maxSize: 10, patience: 1000 },
    )
    const first = call(1)
    const group = [call(2), call(3), call(4)].map((p) =>
      p.then(
        (v) => ({ v }),
        (error: Error) => ({ error: error.message }),
      ),
    )
    await first
    expect(await Promise.all(group)).toEqual([{ v: 20 }, { error: 'sqlstate 23505' }, { v: 40 }])
    expect(seen).toEqual([[1], [2, 3, 4], [2], [3], [4]])
  })

  it('counts the statements really in flight, a group sent again call by call included', async () => {
    const r = controlledRun()
    const call = grouped(r.run, { inFlight: 1, maxSize: 10, patience: 1000 })
    const first = call(1)
    const group = [call(2), call(3)]
    expect(call.counts()).toEqual({ waiting: 2, sent: 1, statements: 1 })
    r.runs[0]?.finish()
    await first
    await tick()
    expect(call.counts()).toEqual({ waiting: 0, sent: 2, statements: 1 })
    r.runs[1]?.fail(sqlError('55P03')) // a row lock one call could not take at once: each is sent alone
    await tick()
    expect(r.runs.map((run) => run.inputs)).toEqual([[1], [2, 3], [2], [3]])
    expect(call.counts()).toEqual({ waiting: 0, sent: 2, statements: 2 })
    r.runs[2]?.finish()
    r.runs[3]?.finish()
    expect(await Promise.all(group)).toEqual([20, 30])
    await tick()
    expect(call.counts()).toEqual({ waiting: 0, sent: 0, statements: 0 })
  })

  it('sends a group again call by call when a row lock was not free (NOWAIT), never when a lock wait timed out', async () => {
    const sizes: number[] = []
    const failing = (error: Error) => {
      const seen: number[][] = []
      const call = grouped(
        async (inputs: readonly number[]) => {
          seen.push([...inputs])
          if (inputs.length > 1) throw error
          return inputs.map((n) => n * 10)
        },
        { inFlight: 1, maxSize: 10, patience: 1000 },
        (size) => sizes.push(size),
      )
      return { call, seen }
    }
    const nowait = failing(
      Object.assign(new Error('could not obtain lock on row in relation "tasks"'), { code: '55P03' }),
    )
    const first = nowait.call(1)
    const group = [nowait.call(2), nowait.call(3)]
    await first
    expect(await Promise.all(group)).toEqual([20, 30])
    expect(nowait.seen).toEqual([[1], [2, 3], [2], [3]])
    // Every statement is observed, those sent again alone too.
    expect(sizes).toEqual([1, 2, 1, 1])

    const timedOut = failing(Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03' }))
    const alone = timedOut.call(1)
    const together = [timedOut.call(2), timedOut.call(3)].map((p) => p.catch((error: Error) => error.message))
    await alone
    expect(await Promise.all(together)).toEqual([
      'canceling statement due to lock timeout',
      'canceling statement due to lock timeout',
    ])
    expect(timedOut.seen).toEqual([[1], [2, 3]])
  })

  it('fails every call of the group at once on an outage, without sending any again', async () => {
    const r = controlledRun()
    const call = grouped(r.run, { inFlight: 1, maxSize: 10, patience: 1000 })
    const first = call(1)
    const group = [call(2), call(3)].map((p) => p.catch((error: Error) => error.message))
    r.runs[0]?.finish()
    await first
    await tick()
    r.runs[1]?.fail(Object.assign(new Error('connection lost'), { code: '08006' }))
    expect(await Promise.all(group)).toEqual(['connection lost', 'connection lost'])
    expect(r.runs).toHaveLength(2)
    // The next call is sent afresh.
    const after = call(5)
    expect(r.runs).toHaveLength(3)
    r.runs[2]?.finish()
    expect(await after).toBe(50)
  })

  it('stops waiting on a stalled group after its patience: later calls are sent without it', async () => {
    const r = controlledRun()
    const call = grouped(r.run, { inFlight: 1, maxSize: 10, patience: 20 })
    void call(1) // stalls
    const later = call(2)
    expect(r.runs).toHaveLength(1)
    await new Promise((resolve) => setTimeout(resolve, 40))
    expect(r.runs.map((run) => run.inputs)).toEqual([[1], [2]])
    r.runs[1]?.finish()
    expect(await later).toBe(20)
  })

  it('refuses an answer that does not give one output per call', async () => {
    const call = grouped(async () => [], { inFlight: 1, maxSize: 10, patience: 1000 })
    await expect(call(1)).rejects.toThrow('a group of 1 got 0 answers')
  })
})
