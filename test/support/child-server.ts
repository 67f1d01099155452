// The real `mandate serve` in a child process on the test file's database, as operators run it: every
// listener on port 0, its ports read from the "mandate is serving" log line. A port probed free here and
// closed could be taken by an outgoing connection's ephemeral port before the child binds it (EADDRINUSE).
import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { cliEnv, cliPath } from './cli.ts'
import type { TestDatabase } from './database.ts'

/** How long the process may take to serve; the whole suite loads two cores. */
const START_MS = 30_000

export interface ChildServer {
  /** The public listener, named as TestServer names it. */
  readonly url: string
  readonly adminUrl: string
  readonly managementUrl: string
  readonly issuer: string
  /** Everything the process wrote so far, stdout and stderr, for failure messages. */
  output(): string
  /** How the process ended ("exited with 1", "exited with SIGKILL"), or undefined while it runs. */
  exited(): string | undefined
  /** Sends SIGTERM now (unless it has ended) and resolves with its exit code (or signal) once it has exited. */
  stop(): Promise<number | string>
}

/** A port nothing listens on at this moment: only a name for an issuer, never bound by the child. */
export async function freePort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as { port: number }
  await new Promise((resolve) => probe.close(resolve))
  return port
}

export interface ChildServerOptions {
  /** After `serve`, e.g. `['--apply', fixtures]`. */
  readonly args?: string[]
  /** Over cliEnv(t) and the defaults here (ports 0, log level info, no shutdown delay). */
  readonly env?: Record<string, string>
  /** The issuer name; processes given the same one are one logical server. A fresh one by default. */
  readonly issuer?: string
}

/**
 * Starts `mandate serve <args>` on the database of `t` and resolves once it serves; throws with all it wrote
 * if it exits first or does not serve in time (and kills it).
 */
export async function startChildServer(t: TestDatabase, options: ChildServerOptions = {}): Promise<ChildServer> {
  const issuer = options.issuer ?? `http://127.0.0.1:${await freePort()}`
  const child = spawn(process.execPath, [cliPath, 'serve', ...(options.args ?? [])], {
    env: {
      ...cliEnv(t),
      MANDATE_ISSUER: issuer,
      MANDATE_PORT: '0',
      MANDATE_ADMIN_PORT: '0',
      MANDATE_MANAGEMENT_PORT: '0',
      MANDATE_LOG_LEVEL: 'info',
      MANDATE_SHUTDOWN_DELAY: '0s',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let output = ''
  let exited: string | undefined
  const exit = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => {
      exited = `exited with ${code ?? signal}`
      resolve(code ?? (signal as string))
    }),
  )
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
    output += chunk.toString()
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  const ports = await serving(
    child,
    () => stdout,
    () => output,
  ).catch(async (error: unknown) => {
    child.kill('SIGKILL')
    await exit
    throw error
  })
  return {
    url: `http://127.0.0.1:${ports.public}`,
    adminUrl: `http://127.0.0.1:${ports.admin}`,
    managementUrl: `http://127.0.0.1:${ports.management}`,
    issuer,
    output: () => output,
    exited: () => exited,
    stop: () => {
      if (!exited) child.kill('SIGTERM')
      return exit
    },
  }
}

type Ports = { public: number; admin: number; management: number }

/** The ports of the "mandate is serving" line on stdout (JSON, one a line); fails once the process ends, or in time. */
function serving(child: ChildProcess, stdout: () => string, output: () => string): Promise<Ports> {
  return new Promise<Ports>((resolve, reject) => {
    const timer = setTimeout(() => fail(`no "mandate is serving" within ${START_MS} ms`), START_MS)
    const done = () => {
      clearTimeout(timer)
      child.stdout?.off('data', look)
      child.off('close', ended)
    }
    const fail = (why: string) => {
      done()
      reject(new Error(`the server did not start (${why}):\n${output()}`))
    }
    const look = () => {
      // Only whole lines: the last piece may be a line still being written.
      const line = stdout()
        .split('\n')
        .slice(0, -1)
        .find((entry) => entry.includes('"mandate is serving"'))
      if (!line) return
      done()
      resolve((JSON.parse(line) as { ports: Ports }).ports)
    }
    // 'close' comes after the exit and the last output, so the message holds all the process wrote.
    const ended = (code: number | null, signal: string | null) => fail(`exited with ${code ?? signal}`)
    child.stdout?.on('data', look)
    child.on('close', ended)
  })
}
