// `mandate serve`: open, apply, listen, and stop cleanly. The signal handlers come first, so a SIGTERM
// while waiting for migrations or applying documents also closes what is open and exits 0 (not 143).
import { setTimeout as sleep } from 'node:timers/promises'
import { type App, createApp } from '../app.ts'
import type { Config } from '../config/schema.ts'
import type { Database } from '../db/connect.ts'
import { type Listeners, listen } from '../http/listen.ts'
import { systemClock } from '../lib/clock.ts'
import { applyDocuments } from '../manifests/apply.ts'
import { policyWarnings } from '../manifests/validate.ts'
import { formatFinding } from '../manifests/load.ts'
import { createLog } from '../observability/log.ts'
import { openDatabase } from '../services.ts'

export const EX_DATAERR = 65

export async function serve(cfg: Config, options: { apply?: string[] }): Promise<void> {
  const log = createLog(cfg.logLevel)
  const stopping = new AbortController()
  const skipDelay = new AbortController()
  let opening: Promise<Database> | undefined
  let app: App | undefined
  let listeners: Listeners | undefined

  const shutdown = async (signal: NodeJS.Signals) => {
    if (app && listeners) {
      // Readiness turns DOWN first and the listeners keep serving for the delay, so load balancers
      // take this process out before it stops accepting. Ctrl-C (SIGINT) has no balancer to wait for.
      app.beginShutdown()
      const delay = signal === 'SIGTERM' ? cfg.shutdownDelay : 0
      log.info({ signal, delay_s: delay }, 'draining')
      await sleep(delay * 1000, undefined, { signal: skipDelay.signal }).catch(() => {})
      await listeners.close(cfg.shutdownTimeout)
    } else {
      log.info({ signal }, 'stopping before serving')
    }
    await app?.close()
    // Closing the database also ends whatever start-up step is still waiting on it.
    await (await opening?.catch(() => undefined))?.close()
    log.info({}, 'stopped')
  }
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping.signal.aborted) {
      skipDelay.abort() // a second signal: stop waiting, drain now
      return
    }
    stopping.abort(signal)
    shutdown(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)

  try {
    opening = openDatabase(cfg, log)
    const database = await opening
    if (stopping.signal.aborted) return
    const started = await createApp(cfg, { log, database })
    if (stopping.signal.aborted) return
    app = started
    if (options.apply) {
      const result = await applyDocuments(database.db, options.apply, {
        clock: systemClock,
        actor: 'serve',
        outbound: cfg.outbound,
        warnings: policyWarnings,
      })
      if (stopping.signal.aborted) return
      if (result.findings.length > 0) {
        for (const finding of result.findings) process.stderr.write(`${formatFinding(finding)}\n`)
        await started.close()
        await database.close()
        process.exit(EX_DATAERR)
      }
      // The documents' warnings never stop the server (as with mandate apply): logged for the operator.
      for (const f of result.warnings ?? [])
        log.warn({ file: f.file, line: f.line, column: f.column, code: f.code, path: f.path }, f.message)
      log.info({ changes: result.changes.map((c) => `${c.kind}/${c.name} ${c.action}`) }, 'documents applied')
    }
    const bound = await listen(started, cfg)
    if (stopping.signal.aborted) return
    listeners = bound
    log.info({ issuer: started.issuer, ports: bound.ports, database: database.kind }, 'mandate is serving')
  } catch (error) {
    // The shutdown closed the database under this step; it exits 0 itself.
    if (stopping.signal.aborted) return
    throw error
  }
}
