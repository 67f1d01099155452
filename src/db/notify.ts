// LISTEN on a dedicated connection (never a pooled one), reconnecting with backoff. Notifications
// are a latency optimisation only: every consumer also re-reads on a timer, since NOTIFY is not durable.
// Its 'error' is always heard (an unheard one ends the process) and its connect is bounded, so a
// stalled database delays notifications, never the process.
import pg from 'pg'

export interface Listener {
  connected(): boolean
  close(): Promise<void>
}

export interface ListenConnection {
  url: string
  /** Seconds: MANDATE_DATABASE_TIMEOUT bounds connecting and the LISTEN statement. */
  timeout: number
}

export function listenPostgres(
  connection: ListenConnection,
  channel: string,
  onNotify: () => void,
  log: { warn(fields: object, msg: string): void },
): Listener {
  let client: pg.Client | undefined
  let closed = false
  let connected = false
  let retry: NodeJS.Timeout | undefined
  let backoff = 250

  const connect = async () => {
    const current = new pg.Client({
      connectionString: connection.url,
      application_name: 'mandate-listener',
      connectionTimeoutMillis: connection.timeout * 1000,
      query_timeout: connection.timeout * 1000,
      keepAlive: true,
    })
    client = current
    current.on('notification', (message) => message.channel === channel && onNotify())
    current.on('error', (error) => {
      log.warn({ err: error, channel }, 'notification listener lost its connection')
      reconnect(current)
    })
    current.on('end', () => reconnect(current))
    try {
      await current.connect()
      await current.query(`listen ${pg.escapeIdentifier(channel)}`)
      connected = true
      backoff = 250
      onNotify() // anything missed while disconnected is picked up now
    } catch (error) {
      log.warn({ err: error, channel }, 'notification listener cannot connect')
      reconnect(current)
    }
  }

  const reconnect = (failed: pg.Client) => {
    if (closed || failed !== client) return
    connected = false
    client = undefined
    failed.end().catch(() => {})
    retry = setTimeout(connect, backoff)
    retry.unref()
    backoff = Math.min(backoff * 2, 10_000)
  }

  void connect()
  return {
    connected: () => connected,
    async close() {
      closed = true
      clearTimeout(retry)
      await client?.end().catch(() => {})
    },
  }
}
