// The bench's processes: servers spawned on their own core, and the CPU time (utime + stime from
// /proc/<pid>/stat, every thread included) that a server and Postgres's backends spent.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'

const TASKSET = ['/usr/bin/taskset', '/bin/taskset'].find((path) => existsSync(path))
const MICROS_PER_TICK = 1e6 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim() || 100)

/** Servers run on core 1, the load generator (this process) on core 0, where taskset exists. */
export const pinned = TASKSET !== undefined

export function pinLoadGenerator(): void {
  if (TASKSET) execFileSync(TASKSET, ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' })
}

export const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })

export interface Server {
  process: ChildProcess
  pid: number
  stop(): Promise<void>
}

/** taskset execs the server, so the pid is the server's own. */
export function spawnServer(args: string[], env: Record<string, string>): Server {
  const [command, ...rest] = TASKSET ? [TASKSET, '-c', '1', process.execPath, ...args] : [process.execPath, ...args]
  const child = spawn(command as string, rest, {
    // BENCH_SERVER_NODE_OPTIONS reaches the servers (for example `--cpu-prof --cpu-prof-dir=/tmp/prof`).
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      NODE_OPTIONS: process.env.BENCH_SERVER_NODE_OPTIONS ?? '',
      ...env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  return {
    process: child,
    pid: child.pid as number,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM')
      await exited
    },
  }
}

export async function waitUntilOk(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`${url}: the server exited (${child.exitCode})`)
    if ((await fetch(url).catch(() => undefined))?.ok) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${url}: not ready after 30 s`)
}

/** µs of CPU the process (all its threads) has used. */
export function cpuMicros(pid: number | string): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * MICROS_PER_TICK
}

/**
 * µs of CPU per Postgres process (cmdline "postgres: …"): the backends of the bench's databases and the
 * server's own background processes (WAL writer, checkpointer …), not other databases' backends — on a
 * shared machine, other sessions' test databases are not the bench's cost.
 */
export function postgresCpu(databases: readonly string[]): Map<string, number> {
  const usage = new Map<string, number>()
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      if (!cmdline.startsWith('postgres:')) continue
      const backend = /\(\d+\)|\[local\]|autovacuum worker/.test(cmdline)
      if (backend && !databases.some((name) => cmdline.includes(` ${name} `))) continue
      usage.set(pid, cpuMicros(pid))
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return usage
}

/** What Postgres spent between two samples; a process that started in between counts from zero. */
export function postgresCpuBetween(before: Map<string, number>, after: Map<string, number>): number {
  let total = 0
  for (const [pid, micros] of after) total += micros - (before.get(pid) ?? 0)
  return total
}
