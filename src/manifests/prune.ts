// `mandate apply --prune` (issue 13): the documents given are the whole truth, so a policy path in force that
// none of them declares is retired (policy/retire.ts), in the apply's transaction and audited with its
// source. Its bindings stop matching: a token exchange they governed meets the unbound-triple refusal, so a
// path still bound for a declared client is retired too (the plan names what it unbinds); a client_credentials
// or authorization_code triple is then bounded by the client and resource alone, which the plan marks as a
// broadening, as apply marks every broadening it writes.
// Two things are refused before anything is written: retiring a path while a declared path is below it
// (the child's effective policy would lose a level, a broadening), and, by design, removing any other kind:
// clients, resources, issuers and users no document declares are listed as kept, never deleted, because
// their tokens, bindings and sign-ins outlive a file (disable them with `disabled: true` or the CLI).
import type { Kysely } from 'kysely'
import { ADMIN_RESOURCE_NAME } from '../admin/bootstrap.ts'
import { CONSOLE_CLIENT } from '../admin/console-client.ts'
import { writeAudit } from '../audit/write.ts'
import { listClientIds } from '../clients/store.ts'
import type { DB } from '../db/schema.ts'
import { toDate } from '../lib/clock.ts'
import { retirementBroadens, retirePolicyPath } from '../policy/retire.ts'
import type { Binding, PolicyPathDocument } from '../policy/schema.ts'
import { liveDocument, livePaths } from '../policy/store.ts'
import type { AnyDocument, ApplyOptions } from './apply.ts'
import type { Finding, Located } from './load.ts'

export interface PrunePlan {
  /** Policy paths in force that no document declares, deepest first: each is retired, its bindings deleted. */
  retire: Array<{ name: string; version: number; unbinds: Binding[]; broadens: string[] }>
  /** Stored clients, resources, issuers and users no document declares: kept (prune retires policy paths only). */
  kept: Array<{ kind: 'Client' | 'Resource' | 'Issuer' | 'User'; name: string }>
}

const depth = (name: string) => name.split('/').length

/** What --prune would do, and the findings that refuse it (nothing is written then). Reads only. */
export async function planPrune(
  db: Kysely<DB>,
  documents: Located<AnyDocument>[],
): Promise<{ plan: PrunePlan; findings: Finding[] }> {
  const declared = (kind: AnyDocument['kind']) =>
    new Set(documents.flatMap((d) => (d.document.kind === kind ? [d.document.metadata.name] : [])))
  const paths = declared('PolicyPath')
  const undeclared = (await livePaths(db))
    .filter((name) => !paths.has(name))
    .sort((a, b) => depth(b) - depth(a) || (a < b ? -1 : 1))
  const retire: PrunePlan['retire'] = []
  for (const name of undeclared) {
    const current = await liveDocument(db, name)
    if (current) {
      const { bindings } = current.document.spec
      retire.push({ name, version: current.version, unbinds: bindings, broadens: retirementBroadens(bindings) })
    }
  }
  const findings: Finding[] = []
  for (const doc of documents.filter((d): d is Located<PolicyPathDocument> => d.document.kind === 'PolicyPath')) {
    const name = doc.document.metadata.name
    const above = retire.find((path) => name.startsWith(`${path.name}/`))
    if (above)
      findings.push({
        file: doc.file,
        ...doc.locate(['metadata', 'name']),
        path: 'metadata.name',
        message: `--prune would retire policy path ${above.name} (no document declares it), which is above this one: declare ${above.name} or remove this path`,
      })
  }
  const kept: PrunePlan['kept'] = []
  const keep = (kind: PrunePlan['kept'][number]['kind'], names: Iterable<string>) => {
    const known = declared(kind)
    for (const name of [...names].sort()) if (!known.has(name)) kept.push({ kind, name })
  }
  // The admin console's client (admin/console-client.ts) is the server's own, ensured at every start.
  keep(
    'Client',
    [...(await listClientIds(db))].filter((id) => id !== CONSOLE_CLIENT),
  )
  // The built-in admin resource (admin/bootstrap.ts) is no document's to declare.
  keep(
    'Resource',
    (await db.selectFrom('resources').select('name').where('name', '<>', ADMIN_RESOURCE_NAME).execute()).map(
      (row) => row.name,
    ),
  )
  keep(
    'Issuer',
    (await db.selectFrom('issuers').select('name').execute()).map((row) => row.name),
  )
  keep(
    'User',
    (await db.selectFrom('users').select('username').where('source', '=', 'document').execute()).map(
      (row) => row.username,
    ),
  )
  return { plan: { retire, kept }, findings }
}

/** Carries out the plan's retirements in the apply's transaction; throws (rolling everything back) if one is refused. */
export async function prunePolicyPaths(
  trx: Kysely<DB>,
  plan: PrunePlan,
  given: readonly string[],
  options: ApplyOptions,
): Promise<void> {
  const paths = given.join(', ')
  const reason = options.reason ?? `not declared in ${paths} (mandate apply --prune)`
  const retired = new Set<string>()
  for (const { name } of plan.retire) {
    const source = { kind: 'prune', paths } as const
    const outcome = await retirePolicyPath(trx, name, {
      now: toDate(options.clock.now()),
      source,
      reason,
      alsoRetired: retired,
      // apply takes broadenings as written (it marks them in the plan); the plan marks these too.
      confirmBroadening: true,
    })
    // Only a concurrent change can get here (the plan was checked): roll the whole apply back.
    if (!outcome.retired) throw new Error(`policy path ${name} cannot be retired: ${outcome.refused.detail}`)
    retired.add(name)
    await writeAudit(trx, {
      type: 'policy_path.retired',
      at: options.clock.now(),
      actor: options.actor,
      requestId: null,
      data: { name, reason, from_version: outcome.from, to_version: outcome.version, source, unbound: outcome.unbound },
    })
  }
}
