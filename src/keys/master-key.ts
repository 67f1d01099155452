// The master keys that seal signing keys: MANDATE_MASTER_KEY, or in embedded development mode a
// generated key kept beside the data (never used with Postgres: the config schema requires one).
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

export function masterKeys(
  config: { masterKey?: Buffer[] | undefined; dataDir: string },
  log: { warn(fields: object, msg: string): void },
): Buffer[] {
  if (config.masterKey) return config.masterKey
  const dir = resolve(config.dataDir)
  const file = join(dir, 'master.key')
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true })
    writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 })
  }
  log.warn({ file }, 'using a generated development master key; set MANDATE_MASTER_KEY for anything real')
  return [Buffer.from(readFileSync(file, 'utf8').trim(), 'base64')]
}
