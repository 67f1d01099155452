// The mandate binary as operators run it: a real child process on the test file's database.
import { execFile, spawn } from 'node:child_process'
import { promisify } from 'node:util'
import type { TestDatabase } from './database.ts'
import { TEST_MASTER_KEY } from './server.ts'

export const cliPath = new URL('../../src/cli/main.ts', import.meta.url).pathname
const run = promisify(execFile)

/** The environment of a CLI process on this file's database (no server of its own: the issuer is a dummy). */
export const cliEnv = (t: TestDatabase): Record<string, string> => ({
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '/tmp',
  MANDATE_DATABASE_URL: t.url as string,
  MANDATE_MASTER_KEY: TEST_MASTER_KEY,
  MANDATE_ISSUER: 'http://127.0.0.1:1',
  MANDATE_LOG_LEVEL: 'warn',
  // The whole suite loads two cores: the CLI's reads get more than the 2 s default before they are bounded.
  MANDATE_DATABASE_TIMEOUT: '10s',
})

/** Runs `mandate <args>` to its end: the exit code and both streams, whatever the code. */
export async function mandateCli(
  t: TestDatabase,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cliPath, ...args], { env: { ...cliEnv(t), ...env } })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string }
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr }
  }
}

/** Runs `mandate <args>` with `input` written to its standard input (a pipe, then closed), to its end. */
export function mandateCliWithInput(
  t: TestDatabase,
  args: string[],
  input: string,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { env: { ...cliEnv(t), ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
    })
    // The command reads one line and may exit before the rest is written: that is no failure of the test.
    child.stdin.on('error', () => {})
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
    child.stdin.end(input)
  })
}
