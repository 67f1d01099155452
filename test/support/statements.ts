// The SQL texts this process sent to Postgres while `work` ran, counted at the pg client every query
// goes through (never timed). The process's own timers run meanwhile and are left out: the webhook
// dispatcher's poll, key ring refreshes and clock checks.
import pg from 'pg'

export async function statementsOf<T>(work: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
  const sent: string[] = []
  const original = pg.Client.prototype.query
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const [first] = args
    sent.push(typeof first === 'string' ? first : String((first as { text?: string }).text))
    return (original as (...a: unknown[]) => unknown).apply(this, args)
  } as typeof original
  try {
    const result = await work()
    const statements = sent.filter(
      (q) => !/webhook_deliveries|signing_keys|^select clock_timestamp\(\) as now$|"kid", "expires_at"/.test(q),
    )
    return { result, statements }
  } finally {
    pg.Client.prototype.query = original
  }
}
