// One read shared by the callers that ask while another is running: they wait for the next read, which
// starts only after all of them asked. Every caller gets a value read after it asked (never an older
// one, as a shared in-flight read could give), with at most one shared read in flight. A read that fails
// fails its waiting callers too (an outage); one running longer than `patience` is stalled, not busy:
// callers then read on their own, so each waits on (and is bounded by) its own read, as without sharing.

export function coalesced<T>(
  read: () => Promise<T>,
  options: { patience: number; now?: () => number },
): () => Promise<T> {
  const now = options.now ?? (() => performance.now())
  let startedAt: number | undefined
  let next: { promise: Promise<T>; start(): void; fail(error: unknown): void } | undefined

  const run = (): Promise<T> => {
    startedAt = now()
    const reading = read()
    const settle = (error?: { cause: unknown }) => {
      startedAt = undefined
      const queued = next
      next = undefined
      // A failed read is an outage for those who waited on it too: they fail at once (closed), and the
      // next caller reads anew.
      if (error) queued?.fail(error.cause)
      else queued?.start()
    }
    reading.then(
      () => settle(),
      (cause: unknown) => settle({ cause }),
    )
    return reading
  }

  return () => {
    if (startedAt === undefined) return run()
    if (now() - startedAt > options.patience) return read()
    if (!next) {
      let start = () => {}
      let fail = (_error: unknown) => {}
      const promise = new Promise<T>((resolve, reject) => {
        start = () => {
          run().then(resolve, reject)
        }
        fail = reject
      })
      next = { promise, start: () => start(), fail: (error) => fail(error) }
    }
    return next.promise
  }
}
