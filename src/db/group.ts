// Group commit: one statement for the same kind of work asked by concurrent requests. A call joins the
// group that will be sent next, never one already sent, so whatever it reads or writes is read or
// written after it asked (a revocation that returned before is seen, as with a statement of its own),
// and it is answered only once that statement has completed (a token leaves after its row is committed).
// Without load a call is sent at once, alone: grouping adds no wait. Under load, calls that arrive
// while `inFlight` groups are running wait for the first to finish and leave together in the next, so
// one round trip and one commit serve many requests (docs/decisions/0013).
import type { Kysely } from 'kysely'

export interface GroupOptions {
  /** Groups sent and not yet answered; a call finding this many waits for one of them. */
  inFlight: number
  /** Calls in one statement at most. */
  maxSize: number
  /**
   * Milliseconds after which a running group is stalled, not busy, and stops holding a place: later
   * calls are sent without waiting for it (each still bounded by the statement timeout).
   */
  patience: number
}

export const GROUP_DEFAULTS: GroupOptions = { inFlight: 1, maxSize: 200, patience: 50 }

/** `run` answers the inputs in order, one output each; it is called with one or more inputs. */
export type GroupRun<I, O> = (inputs: readonly I[]) => Promise<readonly O[]>

/** What one kind of call is doing now: waiting for a statement, or in one sent and not yet answered. */
export interface GroupCounts {
  /** Calls waiting for a place. */
  waiting: number
  /** Calls in statements sent and not answered yet. */
  sent: number
  /** Statements sent and not answered yet (stalled ones and calls sent again alone included). */
  statements: number
}

export interface Grouped<I, O> {
  (input: I): Promise<O>
  counts(): GroupCounts
}

interface Waiting<I, O> {
  input: I
  resolve(output: O): void
  reject(error: unknown): void
}

export function grouped<I, O>(
  run: GroupRun<I, O>,
  options: GroupOptions = GROUP_DEFAULTS,
  onSend: (size: number) => void = () => {},
): Grouped<I, O> {
  let queue: Waiting<I, O>[] = []
  let running = 0
  const unanswered = { sent: 0, statements: 0 }

  const send = () => {
    const batch = queue.slice(0, options.maxSize)
    queue = queue.slice(batch.length)
    running++
    unanswered.sent += batch.length
    let holding = true
    const release = () => {
      if (!holding) return
      holding = false
      running--
      clearTimeout(stall)
      if (queue.length > 0 && running < options.inFlight) send()
    }
    const stall = setTimeout(release, options.patience)
    stall.unref()
    sendGroup(run, batch, { counts: unanswered, onSend }).finally(() => {
      unanswered.sent -= batch.length
      release()
    })
  }

  const call = (input: I) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ input, resolve, reject })
      if (running < options.inFlight) send()
    })
  return Object.assign(call, { counts: () => ({ waiting: queue.length, ...unanswered }) })
}

/** Runs one statement for the batch; `counts.statements` holds it from its start to its answer. */
async function sendGroup<I, O>(
  run: GroupRun<I, O>,
  batch: Waiting<I, O>[],
  statement: { counts: { statements: number }; onSend: (size: number) => void },
): Promise<void> {
  const { counts } = statement
  let outputs: readonly O[] | undefined
  let failure: { error: unknown } | undefined
  counts.statements++
  try {
    statement.onSend(batch.length)
  } catch {
    // An observer (metrics) never stops a statement.
  }
  try {
    outputs = await run(batch.map((waiting) => waiting.input))
    if (outputs.length !== batch.length) throw new Error(`a group of ${batch.length} got ${outputs.length} answers`)
  } catch (error) {
    failure = { error }
  }
  // Released before any statement is sent again, with no wait in between: the count is never short.
  counts.statements--
  if (!failure) {
    for (const [i, waiting] of batch.entries()) waiting.resolve(outputs?.[i] as O)
    return
  }
  // One call's own fault (a constraint, two calls claiming the same key, a row lock held) must not fail
  // the others: each is sent again alone. An outage fails them all at once (closed), without a second wait.
  if (batch.length > 1 && isRowFault(failure.error)) {
    await Promise.all(batch.map((waiting) => sendGroup(run, [waiting], statement)))
    return
  }
  for (const waiting of batch) waiting.reject(failure.error)
}

/**
 * Errors caused by what one statement was given, or by the company it kept: data exceptions (22),
 * integrity constraints (23), cardinality (21: `ON CONFLICT DO UPDATE` reaching one row twice), a
 * deadlock or serialization abort (40), and a row lock one call's rows could not take at once (55P03:
 * a group's `NOWAIT`, so one call's held row never makes the others wait or time out with it). A failed
 * statement changed nothing, so each call is safely sent again alone. Connection, resource, timeout and
 * other failures are not retried.
 */
const isRowFault = (error: unknown): boolean => {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown }
  if (typeof code !== 'string') return false
  // 55P03 is also lock_timeout running out (db/bounds.ts): a timeout, which is not retried.
  if (code === '55P03') return typeof message === 'string' && !/lock timeout/.test(message)
  return /^(2[123]|40)/.test(code)
}

const groups = new WeakMap<object, Map<string, Grouped<never, unknown>>>()
const sizeObservers = new WeakMap<object, (kind: string, size: number) => void>()

/** Calls `observe` with the size of every statement sent by a group of this database (metrics). */
export function observeGroupSizes<D>(db: Kysely<D>, observe: (kind: string, size: number) => void): void {
  sizeObservers.set(db, observe)
}

/** The counts of every kind of group on this database (metrics; tests that order races). */
export function groupCounts<D>(db: Kysely<D>): Map<string, GroupCounts> {
  return new Map(
    [...(groups.get(db) ?? new Map<string, Grouped<never, unknown>>())].map(([kind, group]) => [kind, group.counts()]),
  )
}

/**
 * The group of `kind` on this database, made on first use. A transaction never groups: its statements
 * belong to it alone and run as they are asked.
 */
export function groupOn<D, I, O>(
  db: Kysely<D>,
  kind: string,
  run: (db: Kysely<D>, inputs: readonly I[]) => Promise<readonly O[]>,
): (input: I) => Promise<O> {
  if (db.isTransaction) return (input) => run(db, [input]).then((outputs) => outputs[0] as O)
  const kinds = groups.get(db) ?? new Map<string, Grouped<never, unknown>>()
  groups.set(db, kinds)
  let group = kinds.get(kind) as Grouped<I, O> | undefined
  if (!group) {
    group = grouped<I, O>(
      (inputs) => run(db, inputs),
      GROUP_DEFAULTS,
      (size) => sizeObservers.get(db)?.(kind, size),
    )
    kinds.set(kind, group as unknown as Grouped<never, unknown>)
  }
  return group
}
