// HTTP on a bare socket, for what fetch cannot send: a Host header of our choosing, an absolute-form
// request target, a body trickled byte by byte, a Content-Length with no body behind it.
import { connect } from 'node:net'

export interface RawAnswer {
  /** Whether the server closed the connection before the deadline. */
  closed: boolean
  /** Milliseconds from connecting until the server closed (or the deadline). */
  afterMs: number
  status: number | undefined
  headers: Record<string, string>
  body: unknown
}

export interface RawConnection {
  write(data: string | Buffer): void
  /** Settles when the server closes the connection, or at the deadline (then closed is false). */
  answer: Promise<RawAnswer>
}

export function rawConnection(base: string, deadlineMs = 8000): RawConnection {
  const { hostname, port } = new URL(base)
  const socket = connect(Number(port), hostname)
  // The server may close (or reset) while we still write: that is an outcome, not a test error.
  socket.on('error', () => {})
  const started = performance.now()
  const chunks: Buffer[] = []
  socket.on('data', (chunk: Buffer) => chunks.push(chunk))
  const answer = new Promise<RawAnswer>((resolve) => {
    const settle = (closed: boolean) => {
      clearTimeout(deadline)
      socket.destroy()
      resolve({ closed, afterMs: performance.now() - started, ...parse(Buffer.concat(chunks).toString('utf8')) })
    }
    const deadline = setTimeout(() => settle(false), deadlineMs)
    socket.on('close', () => settle(true))
  })
  return {
    write: (data) => {
      if (!socket.destroyed) socket.write(data)
    },
    answer,
  }
}

/** One request written at once; the answer once the server has responded and closed (or the deadline). */
export async function rawRequest(base: string, head: string, body = '', deadlineMs?: number): Promise<RawAnswer> {
  const connection = rawConnection(base, deadlineMs)
  connection.write(`${head.replace(/\n/g, '\r\n')}\r\nConnection: close\r\n\r\n${body}`)
  return connection.answer
}

function parse(text: string): Pick<RawAnswer, 'status' | 'headers' | 'body'> {
  const split = text.indexOf('\r\n\r\n')
  const head = split === -1 ? text : text.slice(0, split)
  const rest = split === -1 ? '' : text.slice(split + 4)
  const [statusLine = '', ...lines] = head.split('\r\n')
  const status = /^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1]
  const headers = Object.fromEntries(
    lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
  )
  const chunked = headers['transfer-encoding'] === 'chunked'
  const bodyText = chunked ? dechunk(rest) : rest
  let body: unknown = bodyText
  try {
    body = bodyText ? JSON.parse(bodyText) : undefined
  } catch {}
  return { status: status ? Number(status) : undefined, headers, body }
}

function dechunk(text: string): string {
  let out = ''
  let rest = text
  for (;;) {
    const line = rest.indexOf('\r\n')
    const size = Number.parseInt(rest.slice(0, line), 16)
    if (line === -1 || !size) return out
    out += rest.slice(line + 2, line + 2 + size)
    rest = rest.slice(line + 2 + size + 2)
  }
}
