import { describe, expect, it } from 'vitest'
import { coalesced } from '../../src/lib/coalesced.ts'

/** A read whose calls are counted and finished by hand, each answering the value current when it started. */
function controlledRead() {
  let value = 0
  const calls: Array<{ startedWith: number; finish(): void; fail(): void }> = []
  const read = () =>
    new Promise<number>((resolve, reject) => {
      const startedWith = value
      calls.push({ startedWith, finish: () => resolve(startedWith), fail: () => reject(new Error('down')) })
    })
  return { read, calls, set: (next: number) => (value = next) }
}

describe('coalesced', () => {
  let clock = 0
  it('runs a read at once when none is running', async () => {
    const r = controlledRead()
    const get = coalesced(r.read, { patience: 50, now: () => clock })
    const first = get()
    expect(r.calls).toHaveLength(1)
    r.calls[0]?.finish()
    expect(await first).toBe(0)
  })

  it('gives callers that asked during a read the next read, one for all of them, started after they asked', async () => {
    const r = controlledRead()
    const get = coalesced(r.read, { patience: 50, now: () => clock })
    const first = get()
    r.set(1) // a change commits after the first read began
    const waiting = [get(), get(), get()]
    expect(r.calls).toHaveLength(1) // nobody joins the read in flight: it may predate their change
    r.calls[0]?.finish()
    expect(await first).toBe(0)
    await Promise.resolve()
    expect(r.calls).toHaveLength(2)
    r.calls[1]?.finish()
    expect(await Promise.all(waiting)).toEqual([1, 1, 1])
  })

  it('fails the callers waiting on a read that failed (an outage), and reads anew for the next one', async () => {
    clock = 0
    const r = controlledRead()
    const get = coalesced(r.read, { patience: 50, now: () => clock })
    const first = get()
    const waiting = get()
    r.calls[0]?.fail()
    await expect(first).rejects.toThrow('down')
    await expect(waiting).rejects.toThrow('down')
    expect(r.calls).toHaveLength(1)
    const after = get()
    expect(r.calls).toHaveLength(2)
    r.calls[1]?.finish()
    expect(await after).toBe(0)
  })

  it('gives no company to a stalled read: callers after its patience read on their own', async () => {
    clock = 0
    const r = controlledRead()
    const get = coalesced(r.read, { patience: 50, now: () => clock })
    const stalled = get()
    clock = 51
    const own = get()
    expect(r.calls).toHaveLength(2) // started at once, not queued behind the stalled read
    r.calls[1]?.finish()
    expect(await own).toBe(0)
    r.calls[0]?.fail()
    await expect(stalled).rejects.toThrow('down')
  })
})
