// One read shared by the callers that ask while another is running: they wait for the next read, which
// starts only after all of them asked. Every caller gets a value read after it asked (never an older
// one, as a shared in-flight read could give), with at most one read in flight.

export function coalesced<T>(read: () => Promise<T>): () => Promise<T> {
  let running = false
  let next: { promise: Promise<T>; start(): void } | undefined

  const run = (): Promise<T> => {
    running = true
    const reading = read()
    reading
      .finally(() => {
        running = false
        const queued = next
        next = undefined
        queued?.start()
      })
      .catch(() => {}) // the callers handle the rejection; this chain only schedules the next read
    return reading
  }

  return () => {
    if (!running) return run()
    if (!next) {
      let start = () => {}
      const promise = new Promise<T>((resolve, reject) => {
        start = () => {
          run().then(resolve, reject)
        }
      })
      next = { promise, start: () => start() }
    }
    return next.promise
  }
}
