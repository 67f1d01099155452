// The `mandate` command: one binary for serving and for every operator task (Hydra/ZITADEL style).
// Exit codes: 0 ok, 1 failure, 64 a bad option value (EX_USAGE), 65 invalid documents (EX_DATAERR), 78 invalid
// configuration (EX_CONFIG).
import { userInfo } from 'node:os'
import { Command } from 'commander'
import pino from 'pino'
import { getDecision, taskDetail, tokenLineage } from '../admin/queries.ts'
import { presentApproval } from '../approvals/present.ts'
import { APPROVAL_STATES, type ApprovalState, findApproval, listApprovals } from '../approvals/store.ts'
import { isUuid } from '../lib/uuid.ts'
import { writeAudit } from '../audit/write.ts'
import { setDisabledBy } from '../clients/store.ts'
import { ConfigError, EX_CONFIG, loadConfig } from '../config/load.ts'
import type { Config } from '../config/schema.ts'
import { migrateUp, migrationStatus } from '../db/migrations.ts'
import { createSigningKey, ensureSigningKey } from '../keys/store.ts'
import { systemClock, toDate } from '../lib/clock.ts'
import { formatDuration } from '../lib/duration.ts'
import { type AnyDocument, applyDocuments, documentKinds, schemaForKind } from '../manifests/apply.ts'
import { runJanitor } from '../janitor/janitor.ts'
import { exportDocuments, exportFolderProblem, writeExport } from '../manifests/export.ts'
import { formatFinding, loadDocuments } from '../manifests/load.ts'
import { createLog, type Log } from '../observability/log.ts'
import { openServices, type Services, type ServicesOptions } from '../services.ts'
import { completeWithEffects } from '../tasks/complete.ts'
import { isTaskOutcome } from '../tasks/outcome.ts'
import { findTask } from '../tasks/store.ts'
import { enqueueTaskCompleted } from '../tasks/webhooks.ts'
import { normalizeUsername } from '../users/authenticate.ts'
import { disableUser, enableUser } from '../users/disable.ts'
import { hashPassword, MAX_PASSWORD_LENGTH, passwordProblem } from '../users/password.ts'
import { userSummary } from '../users/document.ts'
import { listUsers, setPassword, UnknownUser } from '../users/store.ts'
import { diffPolicyPath } from '../admin/policy-paths.ts'
import { unbindingBroadens } from '../policy/diff.ts'
import { policyWarnings, validateLoaded } from '../manifests/validate.ts'
import { login } from './login.ts'
import { policyTestCommand, simulateCommand } from './policy-simulation.ts'
import { readSecretLine } from './read-secret.ts'
import { EX_DATAERR, serve } from './serve.ts'

const program = new Command('mandate')
  .description('Mandate: an OAuth 2.0 / OpenID Connect authorization server for AI agents acting for people.')
  .option('-c, --config <file>', 'YAML configuration file (environment variables override it)')
  .showHelpAfterError()

function readConfig(): Config {
  const file = program.opts<{ config?: string }>().config
  return loadConfig(process.env, file ? { file } : {})
}

/** Operator commands log to stderr, so stdout carries only their answer. */
const cliLog = (cfg: Config): Log => createLog(cfg.logLevel === 'info' ? 'warn' : cfg.logLevel, pino.destination(2))

/** Who runs an operator command, for the audit trail: the OS user, or "cli" where it has no name. */
function cliActor(): string {
  try {
    return `cli:${userInfo().username}`
  } catch {
    return 'cli'
  }
}

/** Runs a command on the server's own services, logging to stderr under its own application_name. */
async function withServices<T>(
  cfg: Config,
  run: (services: Services) => Promise<T>,
  migrations: ServicesOptions['migrations'] = 'command',
): Promise<T> {
  const services = await openServices(cfg, { log: cliLog(cfg), applicationName: 'mandate-cli', migrations })
  try {
    return await run(services)
  } finally {
    await services.close()
  }
}

program
  .command('serve')
  .description('Serve the public, admin and management listeners.')
  .option('--apply <paths...>', 'apply these documents (files or folders) before serving')
  .action((options: { apply?: string[] }) => serve(readConfig(), options))

const migrate = program.command('migrate').description('Database schema migrations.')
migrate
  .command('up')
  .description('Apply every pending migration (advisory-locked; safe beside running servers).')
  .action(async () => {
    await withServices(
      readConfig(),
      async ({ database }) => {
        const applied = await database.unbounded(migrateUp)
        process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'already up to date\n')
      },
      'none',
    )
  })
migrate
  .command('status')
  .description('List applied and pending migrations; exits 1 when any is pending.')
  .action(async () => {
    await withServices(
      readConfig(),
      async ({ db }) => {
        const status = await migrationStatus(db)
        for (const name of status.applied) process.stdout.write(`applied  ${name}\n`)
        for (const name of status.pending) process.stdout.write(`pending  ${name}\n`)
        for (const name of status.unknown) process.stdout.write(`unknown  ${name} (applied by a newer version)\n`)
        if (status.pending.length > 0) process.exitCode = 1
      },
      'none',
    )
  })

program
  .command('apply')
  .description(
    'Validate documents (Client, User, Resource, Issuer, PolicyPath) and create or update them idempotently.',
  )
  .argument('<paths...>', 'YAML files or folders (read recursively)')
  .option('--dry-run', 'validate and show what would change, write nothing')
  .option(
    '--prune',
    'also retire the policy paths no document declares (other kinds are listed, never removed; docs/operations.md)',
  )
  .option('--reason <text>', 'why: recorded on each policy path version written and in the audit events')
  .action(async (paths: string[], options: { dryRun?: boolean; prune?: boolean; reason?: string }) => {
    await withServices(readConfig(), async ({ db, clock, config }) => {
      const result = await applyDocuments(db, paths, {
        clock,
        dryRun: options.dryRun ?? false,
        actor: cliActor(),
        outbound: config.outbound,
        prune: options.prune ?? false,
        reason: options.reason,
        warnings: policyWarnings,
      })
      if (result.findings.length > 0) {
        for (const finding of result.findings) process.stderr.write(`${formatFinding(finding)}\n`)
        process.stderr.write(`${result.findings.length} problem(s); nothing was written\n`)
        process.exitCode = EX_DATAERR
        return
      }
      // Warnings never refuse an apply (`mandate policy validate` shows the same), but the author should see them.
      for (const f of result.warnings ?? [])
        process.stderr.write(
          `${f.file}:${f.line}:${f.column}: ${f.severity}: ${f.message}${f.path ? ` (at ${f.path})` : ''} [${f.code}]\n`,
        )
      const verb = options.dryRun ? 'would be ' : ''
      for (const change of result.changes) {
        process.stdout.write(`${change.kind}/${change.name} ${verb}${change.action}\n`)
        // What a policy path's new version changes, each broadening marked (policy/diff.ts).
        for (const line of change.diff ?? [])
          process.stdout.write(`  ${line.broadening ? '! broadens: ' : ''}${line.text}\n`)
      }
      for (const path of result.prune?.retire ?? []) {
        process.stdout.write(`${options.dryRun ? 'would retire' : 'retired'} policy path ${path.name}\n`)
        for (const text of path.broadens) process.stdout.write(`  ! broadens: ${text}\n`)
        for (const b of path.unbinds)
          if (!unbindingBroadens(b.grantType))
            process.stdout.write(`  unbinds ${b.client} from ${b.resource} (${b.grantType})\n`)
      }
      for (const kept of result.prune?.kept ?? [])
        process.stdout.write(`${kept.kind}/${kept.name} kept: not declared, but --prune retires policy paths only\n`)
      if (options.dryRun) process.stdout.write('dry run: nothing was written\n')
    })
  })

program
  .command('export')
  .description(
    'Write the documents in force (clients, resources, issuers, users, policy paths not retired) as YAML, one file a document, into a new or empty folder; `mandate apply` of it changes nothing. Never a secret in plain (docs/operations.md).',
  )
  .argument('<dir>', 'a new or empty folder')
  .action(async (dir: string, _options: object, command: Command) => {
    const cfg = readConfig()
    const problem = await exportFolderProblem(dir)
    if (problem) return usage(command, problem)
    await withServices(cfg, async ({ db }) => {
      const exported = await exportDocuments(db)
      await writeExport(dir, exported)
      for (const note of exported.notes) process.stderr.write(`note: ${note}\n`)
      process.stdout.write(`wrote ${exported.files.length} document(s) to ${dir}\n`)
    })
  })

const keys = program.command('keys').description('Signing keys.')
keys
  .command('rotate')
  .description('Create a new signing key: published now, signing after MANDATE_KEYS__PUBLISH_DELAY.')
  .action(async () => {
    await withServices(readConfig(), async ({ db, clock, keys, config }) => {
      await ensureSigningKey(db, keys, toDate(clock.now()))
      const activatesAt = toDate(clock.now() + config.keys.publishDelay)
      const { kid } = await createSigningKey(db, keys, activatesAt)
      process.stdout.write(
        `created ${kid}: published now, signs from ${activatesAt.toISOString()} (in ${formatDuration(config.keys.publishDelay)})\n`,
      )
    })
  })
keys
  .command('list')
  .description('Show every signing key and its state.')
  .action(async () => {
    await withServices(readConfig(), async ({ ring }) => {
      await ring.refresh()
      for (const status of ring.statuses()) {
        const until = status.publishedUntil ? ` published until ${toDate(status.publishedUntil).toISOString()}` : ''
        process.stdout.write(
          `${status.kid}  ${status.state.padEnd(8)} activates ${toDate(status.activatesAt).toISOString()}${until}\n`,
        )
      }
    })
  })

const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
const notFound = (what: string) => {
  process.stderr.write(`${what} not found\n`)
  process.exitCode = 1
}

/** sysexits EX_USAGE (64): an option value the command cannot take, followed by that command's help. */
const usage = (command: Command, message: string): never => command.error(`error: ${message}`, { exitCode: 64 })

const client = program.command('client').description('Clients.')
for (const [verb, description] of [
  [
    'disable',
    'Disable a client now: it can no longer authenticate, and every token it holds or acts in stops being active on every process at once. Only `mandate client enable` undoes it.',
  ],
  [
    'enable',
    'Undo `mandate client disable` (a client its document disables stays disabled); tokens issued before stay inactive.',
  ],
] as const) {
  client
    .command(verb)
    .description(description)
    .argument('<client_id>')
    .action(async (clientId: string) => {
      await withServices(readConfig(), async ({ db, clock }) => {
        const result = await db.transaction().execute(async (trx) => {
          const changed = await setDisabledBy(trx, clientId, { cli: verb === 'disable' })
          if (changed && changed.before.byCli !== changed.after.byCli) {
            await writeAudit(trx, {
              type: verb === 'disable' ? 'client.disabled' : 'client.enabled',
              at: clock.now(),
              actor: cliActor(),
              requestId: null,
              data: { client_id: clientId, disabled: changed.after.disabled, by_document: changed.after.byDocument },
            })
          }
          return changed
        })
        if (!result) return notFound(`client ${clientId}`)
        const { before, after } = result
        const flagged = before.byCli !== after.byCli
        const said =
          verb === 'disable'
            ? flagged
              ? 'disabled'
              : 'was already disabled'
            : after.disabled
              ? 'stays disabled: its document says disabled: true'
              : flagged
                ? 'enabled'
                : 'was not disabled'
        process.stdout.write(`client ${clientId} ${said}\n`)
      })
    })
}

/** A new password from standard input, never an argument; undefined (exit 1) when its length is refused. */
async function readNewPassword(): Promise<string | undefined> {
  // Four bytes a character at most (UTF-8): anything longer is refused before it is decoded.
  const password = await readSecretLine('password: ', MAX_PASSWORD_LENGTH * 4)
  const problem = passwordProblem(password)
  if (!problem) return password
  process.stderr.write(`${problem}\n`)
  process.exitCode = 1
  return undefined
}

/** Runs a command on one user; an unknown user is a message on stderr and exit 1. */
async function onUser(username: string, run: () => Promise<void>): Promise<void> {
  try {
    await run()
  } catch (error) {
    if (error instanceof UnknownUser) return notFound(`user ${username}`)
    throw error
  }
}

const user = program.command('user').description('People who sign in at Mandate (docs/users.md).')
user
  .command('set-password')
  .description(
    "Set a user's password: the first line of standard input (typed without echo on a terminal), 12 to 1024 characters; never an argument.",
  )
  .argument('<username>')
  // Refused below without echoing the extra argument, which commander's own message would repeat.
  .allowExcessArguments()
  .action(async (username: string, _options: object, command: Command) => {
    if (command.args.length > 1) return usage(command, 'the password is read from standard input, never an argument')
    const cfg = readConfig()
    const name = normalizeUsername(username)
    const password = await readNewPassword()
    if (password === undefined) return
    const hash = await hashPassword(password)
    await withServices(cfg, async ({ db, clock }) =>
      onUser(name, async () => {
        await db.transaction().execute(async (trx) => {
          await setPassword(trx, name, hash, toDate(clock.now()))
          await writeAudit(trx, {
            type: 'user.password_set',
            at: clock.now(),
            actor: cliActor(),
            requestId: null,
            subject: name,
            data: { username: name },
          })
        })
        process.stdout.write(`user ${name}: password set\n`)
      }),
    )
  })
user
  .command('hash-password')
  .description(
    "Print an argon2id hash of the password on standard input (its first line), for a User document's spec.passwordHash.",
  )
  .action(async () => {
    const password = await readNewPassword()
    if (password !== undefined) process.stdout.write(`${await hashPassword(password)}\n`)
  })
for (const [verb, description] of [
  [
    'disable',
    'Disable a user now: they cannot sign in, every token whose subject they are stops being active on every process at once, and their sessions, grants and refresh tokens are deleted.',
  ],
  ['enable', 'Enable a user again; tokens issued before they were disabled stay inactive.'],
] as const) {
  user
    .command(verb)
    .description(description)
    .argument('<username>')
    .action(async (username: string) => {
      const name = normalizeUsername(username)
      await withServices(readConfig(), async ({ db, clock }) =>
        onUser(name, async () => {
          const now = toDate(clock.now())
          const said =
            verb === 'disable'
              ? (await disableUser(db, name, now, cliActor()))
                ? 'disabled'
                : 'was already disabled'
              : await enableUser(db, name, now, cliActor()).then(({ changed, disabled }) =>
                  disabled
                    ? 'stays disabled: their document says disabled: true'
                    : changed
                      ? 'enabled'
                      : 'was not disabled',
                )
          process.stdout.write(`user ${name} ${said}\n`)
        }),
      )
    })
}
user
  .command('list')
  .description(
    'List users (JSON): username, email, display name, source, disabled, whether they have a password, roles.',
  )
  .action(async () => {
    await withServices(readConfig(), async ({ db }) => {
      const rows = await listUsers(db)
      print({
        users: rows.map(userSummary),
      })
    })
  })

program
  .command('login')
  .description(
    'Sign a person in at a running server with the authorization code flow and PKCE, in the terminal, and print the token response (docs/sign-in.md). The password is the first line of standard input (typed without echo on a terminal).',
  )
  .argument('<username>')
  .requiredOption('--client <client_id>', 'the app the person signs in to')
  .option(
    '--client-secret <secret>',
    "the app's secret, for a confidential client (demo use: it shows in the process list)",
  )
  .option(
    '--issuer <url>',
    'the server (default: MANDATE_ISSUER, else http://localhost:3000)',
    process.env.MANDATE_ISSUER ?? 'http://localhost:3000',
  )
  .option(
    '--redirect-uri <uri>',
    "one of the app's redirectUris (never opened: the code is read from the redirect)",
    'http://127.0.0.1:8400/callback',
  )
  .option('--resource <uri>', 'the resource the token is for (RFC 8707)')
  .option('--scope <scopes>', 'the scopes asked for', 'openid')
  .option('--yes', 'allow at the consent page without asking')
  .option('--token-only', 'print the access token alone (for scripts)')
  .action(
    async (
      username: string,
      options: {
        client: string
        clientSecret?: string
        issuer: string
        redirectUri: string
        resource?: string
        scope: string
        yes?: boolean
        tokenOnly?: boolean
      },
    ) => {
      const password = await readSecretLine(`password for ${username}: `, MAX_PASSWORD_LENGTH * 4)
      const result = await login({
        issuer: options.issuer,
        username,
        password,
        clientId: options.client,
        clientSecret: options.clientSecret,
        redirectUri: options.redirectUri,
        scope: options.scope,
        resource: options.resource,
        consent: options.yes ? true : undefined,
        say: (line) => process.stderr.write(`${line}\n`),
      })
      if (!result.ok) {
        process.stderr.write(`sign-in failed: ${result.message}\n`)
        process.exitCode = 1
        return
      }
      if (options.tokenOnly) process.stdout.write(`${result.tokens.access_token}\n`)
      else print(result.tokens)
    },
  )

const policy = program.command('policy').description('Policy paths (docs/policy-paths.md).')
policy
  .command('validate')
  .description(
    'Validate documents without writing anything: what apply would refuse (errors), and scopes no bound resource has or levels wider than their ancestors (warnings). Findings at file:line:col; exit 1 on an error.',
  )
  .argument('<paths...>', 'YAML files or folders (read recursively)')
  .action(async (paths: string[]) => {
    await withServices(readConfig(), async ({ db, config }) => {
      const loaded = await loadDocuments<AnyDocument>(paths, schemaForKind, Object.keys(documentKinds))
      const findings = await validateLoaded(db, loaded, config.outbound)
      for (const f of findings)
        process.stdout.write(
          `${f.file}:${f.line}:${f.column}: ${f.severity}: ${f.message}${f.path ? ` (at ${f.path})` : ''} [${f.code}]\n`,
        )
      const errors = findings.filter((f) => f.severity === 'error').length
      process.stdout.write(
        `${loaded.documents.length} document(s): ${errors} error(s), ${findings.length - errors} warning(s)\n`,
      )
      if (errors > 0) process.exitCode = 1
    })
  })
policy
  .command('diff')
  .description(
    'Compare two versions of a policy path: what changed in words, each marked when it broadens what the path lets through, then the YAML line by line.',
  )
  .argument('<name>', 'the policy path, for example acme/support')
  .argument('<from>', 'a version (0: before the path existed)')
  .argument('<to>', 'a version')
  .action(async (name: string, from: string, to: string, _options: object, command: Command) => {
    const version = (text: string) =>
      /^\d{1,9}$/.test(text) ? Number(text) : usage(command, `${text} is not a version number`)
    const range = { from: version(from), to: version(to) }
    await withServices(readConfig(), async ({ db }) => {
      const diff = await diffPolicyPath(db, name, range)
      if (!diff) return notFound(`policy path ${name} version ${from} or ${to}`)
      const lines = diff.changes.map((change) => `${change.broadening ? '! broadens: ' : '  '}${change.text}`)
      process.stdout.write(
        `${name}: version ${diff.from} → ${diff.to}${diff.broadening ? ' (broadens)' : ''}\n${lines.join('\n') || '  no change'}\n\n${diff.yaml}\n`,
      )
    })
  })
policy
  .command('simulate')
  .description(
    'Decide a described token request (YAML or JSON: client_id, resource, grant_type, subject claims, actor_chain, scope, task, action) against the policy in the database, or with --candidate documents in place; prints the decision as JSON. Nothing is issued or written; exit 1 on an invalid request or candidate.',
  )
  .argument('[file]', 'the request (default: standard input)')
  .option('--candidate <file>', 'PolicyPath documents to decide with, in place of the stored versions')
  .action(async (file: string | undefined, options: { candidate?: string }) => {
    await withServices(readConfig(), async ({ db, clock, config, issuer }) => {
      const input = { file, candidate: options.candidate }
      const deps = { db, issuer, now: clock.now(), outbound: config.outbound }
      const decided = await simulateCommand(deps, input, (text) => process.stderr.write(text))
      if (decided) print(decided)
      else process.exitCode = 1
    })
  })
policy
  .command('test')
  .description(
    'Run every <dir>/tests/*.test.yaml case (a request and the decision expected) against the documents of <dir> and --documents, offline: no server or database. Prints each failure and "N passed, N failed"; exit 1 on a failure or an invalid file.',
  )
  .argument('[dir]', 'the policy paths folder', 'policy-paths')
  .option('--documents <paths...>', 'more documents the paths name (clients, resources, issuers)', [])
  .action(async (dir: string, options: { documents: string[] }) => {
    const write = (text: string) => process.stdout.write(text)
    if (!(await policyTestCommand(dir, options.documents, systemClock.now(), write))) process.exitCode = 1
  })

const task = program.command('task').description('Tasks: units of delegated work.')
task
  .command('show')
  .description('Show a task, its subtasks, its token tree, its actions timeline and its approvals (JSON).')
  .argument('<task_id>')
  .action(async (taskId: string) => {
    await withServices(readConfig(), async ({ db, clock }) => {
      const detail = await taskDetail(db, taskId, toDate(clock.now()))
      return detail ? print(detail) : notFound(`task ${taskId}`)
    })
  })
task
  .command('complete')
  .description('Complete a task (and its subtasks): every token issued for them stops being active at once.')
  .argument('<task_id>')
  .option('--outcome <outcome>', 'succeeded, failed or cancelled', 'cancelled')
  .action(async (taskId: string, options: { outcome: string }) => {
    const cfg = readConfig()
    const { outcome } = options
    if (!isTaskOutcome(outcome)) throw new Error('--outcome must be succeeded, failed or cancelled')
    await withServices(cfg, async (services) => {
      const { db, clock, issuer } = services
      const found = await findTask(db, taskId)
      if (!found) return notFound(`task ${taskId}`)
      const now = clock.now()
      const ring = services.ring // only now: a task not found needs no master key
      await ring.refresh()
      const result = await completeWithEffects(
        {
          db,
          enqueueCompleted: (trx, task, outcome, jtis) =>
            enqueueTaskCompleted(trx, { clock, ring, issuer }, task, outcome, jtis),
        },
        found,
        { outcome, now, actor: 'cli', requestId: null },
      )
      print({ task_id: taskId, completed_now: result.completedNow, revoked_tokens: result.revoked })
    })
  })

program
  .command('token')
  .description('Tokens.')
  .command('lineage')
  .description('Show a token with its ancestors up to the root and its descendants (JSON).')
  .argument('<jti>')
  .action(async (jti: string) => {
    await withServices(readConfig(), async ({ db, clock }) => {
      const lineage = await tokenLineage(db, jti, toDate(clock.now()))
      return lineage ? print(lineage) : notFound(`token ${jti}`)
    })
  })

program
  .command('janitor')
  .description(
    'Prune expired rows now, as the janitor of a running server does (MANDATE_JANITOR__* retention); exits 1 when another process holds the janitor lock or the run fails.',
  )
  .action(async () => {
    await withServices(readConfig(), async ({ db, clock, config, log }) => {
      const result = await runJanitor({
        db,
        clock,
        settings: config.janitor,
        clockTolerance: config.clockTolerance,
        log,
      })
      print(result)
      if (result.outcome !== 'done') process.exitCode = 1
    })
  })

const approval = program
  .command('approval')
  .description('Approvals people gave or refused for their agents\u2019 actions.')
approval
  .command('list')
  .description('List approvals, newest first (JSON).')
  .option('--status <state>', `only in this state: ${APPROVAL_STATES.join(', ')}`)
  .option('--task <task_id>', 'only requested for this task')
  .option('--delegator <sub>', 'only asked of this person')
  .option('--limit <n>', 'at most this many (1-1000)', '100')
  .action(async (options: { status?: string; task?: string; delegator?: string; limit: string }, command: Command) => {
    const limit = Number(options.limit)
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      return usage(command, '--limit must be a number from 1 to 1000')
    if (options.status && !APPROVAL_STATES.includes(options.status as ApprovalState))
      return usage(command, `--status must be one of ${APPROVAL_STATES.join(', ')}`)
    if (options.task && !isUuid(options.task)) return usage(command, '--task must be a task id (a UUID)')
    await withServices(readConfig(), async ({ db, clock }) => {
      const now = toDate(clock.now())
      const rows = await listApprovals(db, {
        status: options.status ? { state: options.status as ApprovalState, now } : undefined,
        taskId: options.task,
        delegator: options.delegator,
        limit,
      })
      print({ approvals: rows.map((row) => presentApproval(row, now)) })
    })
  })
approval
  .command('show')
  .description('Show one approval (JSON).')
  .argument('<approval_id>')
  .action(async (approvalId: string) => {
    await withServices(readConfig(), async ({ db, clock }) => {
      const found = isUuid(approvalId) ? await findApproval(db, approvalId) : undefined
      return found ? print(presentApproval(found, toDate(clock.now()))) : notFound(`approval ${approvalId}`)
    })
  })

program
  .command('decision')
  .description('Decision records.')
  .command('show')
  .description('Show one decision record with its full chain (JSON).')
  .argument('<decision_id>')
  .action(async (decisionId: string) => {
    await withServices(readConfig(), async ({ db }) => {
      const decision = await getDecision(db, decisionId)
      return decision ? print(decision) : notFound(`decision ${decisionId}`)
    })
  })

try {
  await program.parseAsync(process.argv)
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`)
    process.exit(EX_CONFIG)
  }
  process.stderr.write(`mandate: ${(error as Error).message}\n`)
  if ((error as Error).cause) process.stderr.write(`  cause: ${String((error as { cause: unknown }).cause)}\n`)
  process.exit(1)
}
