// The policy path pages: read with admin/policy-paths.ts, changed with admin/policy-change.ts (the admin
// API's own change: the same validation, version check, broadening confirmation and audit event), as the
// person signed in (`admin-person:<username>`).
import type { Context } from 'koa'
import { changePolicyPathAs, type ChangeOutcome } from '../admin/policy-change.ts'
import {
  currentPolicyPath,
  diffPolicyPath,
  effectivePolicyPath,
  listPolicyPaths,
  policyPathVersion,
  policyPathVersions,
} from '../admin/policy-paths.ts'
import { documentYaml, parseYamlDocuments } from '../documents/yaml.ts'
import { diffDocuments, lineDiff } from '../policy/diff.ts'
import { editPage, type EditView, rollbackPage } from './edit-views.ts'
import { type ConsoleFinding, diffPage, listPage, pathHref, pathPage } from './policy-views.ts'
import { message, type ConsoleDeps, type PageHandler, type Person } from './routes.ts'

const text = (value: unknown): string => (typeof value === 'string' ? value : '')
const versionOf = (value: unknown): number | undefined =>
  typeof value === 'string' && /^[0-9]{1,9}$/.test(value) ? Number(value) : undefined

export function policyRoutes(deps: ConsoleDeps): Record<string, PageHandler> {
  const notFound = (ctx: Context, person: Person, name: string) =>
    message(ctx, 404, 'Not found', `There is no policy path ${name}.`, person.frame)
  const seeOther = (ctx: Context, to: string) => {
    ctx.status = 303
    ctx.redirect(to)
  }

  return {
    async 'GET /admin/policy-paths'(ctx, person) {
      const query = text(ctx.query.q).trim()
      const paths = (await listPolicyPaths(deps.db)).filter(
        (p) =>
          !query ||
          [p.name, p.description ?? '', p.owner ?? '', ...p.bindings.map((b) => `${b.client} ${b.resource}`)].some(
            (s) => s.toLowerCase().includes(query.toLowerCase()),
          ),
      )
      ctx.body = listPage({ ...person.frame, section: 'policy-paths' }, query, paths)
    },

    async 'GET /admin/policy-path'(ctx, person) {
      const name = text(ctx.query.name)
      const current = await currentPolicyPath(deps.db, name)
      if (!current) return notFound(ctx, person, name)
      const [effective, versions] = await Promise.all([
        effectivePolicyPath(deps.db, name),
        policyPathVersions(deps.db, name),
      ])
      const saved = versionOf(ctx.query.saved)
      ctx.body = pathPage(
        { ...person.frame, section: 'policy-paths' },
        {
          name,
          version: current.version,
          yaml: documentYaml(current.document),
          effective,
          versions,
          message:
            ctx.query.unchanged === '1'
              ? 'Nothing changed: the document is the current version.'
              : saved
                ? `Saved as version ${saved}.`
                : undefined,
        },
      )
    },

    async 'GET /admin/policy-path/diff'(ctx, person) {
      const name = text(ctx.query.name)
      const diff = await diffPolicyPath(deps.db, name, {
        from: versionOf(ctx.query.from),
        to: versionOf(ctx.query.to),
      })
      if (!diff) return message(ctx, 404, 'Not found', `No such versions of ${name}.`, person.frame)
      ctx.body = diffPage({ ...person.frame, section: 'policy-paths' }, diff)
    },

    async 'GET /admin/policy-path/edit'(ctx, person) {
      const name = text(ctx.query.name)
      const current = await currentPolicyPath(deps.db, name)
      if (!current) return notFound(ctx, person, name)
      ctx.body = editPage(
        { ...person.frame, section: 'policy-paths' },
        {
          name,
          version: current.version,
          yaml: `${documentYaml(current.document)}\n`,
          reason: '',
          findings: [],
          confirm: false,
        },
      )
    },

    async 'POST /admin/policy-path/edit'(ctx, person, params) {
      const name = text(ctx.query.name)
      const version = versionOf(params.version)
      if (version === undefined || !(await currentPolicyPath(deps.db, name))) return notFound(ctx, person, name)
      const view: EditView = {
        name,
        version,
        yaml: text(params.yaml),
        reason: text(params.reason),
        findings: [],
        confirm: false,
      }
      const render = (status: number, extra: Partial<EditView>) => {
        ctx.status = status
        ctx.body = editPage({ ...person.frame, section: 'policy-paths' }, { ...view, ...extra })
      }
      if (view.yaml.trim() === '') return render(422, { problem: 'The document is empty.' })
      // Line and column of the text as typed, the same checks as `mandate apply`.
      const findings = await deps.validateDocuments(view.yaml)
      const hasErrors = findings.some((f) => f.severity === 'error')
      if (params.intent === 'check' || hasErrors) return render(hasErrors ? 422 : 200, { findings, checked: true })
      const documents = parseYamlDocuments(view.yaml)
      if (documents.length !== 1)
        return render(422, { findings, problem: 'The text must hold one PolicyPath document.' })
      const outcome = await changePolicyPathAs(deps, name, {
        document: documents[0],
        reason: view.reason,
        confirmBroadening: params.confirm === 'yes' ? true : undefined,
        ifMatch: `"${version}"`,
        admin: `admin-person:${person.username}`,
        via: 'admin-console',
      })
      if ('refused' in outcome) return render(outcome.refused.status, refusedView(outcome, findings))
      seeOther(ctx, saved(name, outcome))
    },

    async 'GET /admin/policy-path/rollback'(ctx, person) {
      const name = text(ctx.query.name)
      const view = await rollbackView(name, versionOf(ctx.query.version))
      if (!view) return message(ctx, 404, 'Not found', `No such version of ${name}.`, person.frame)
      ctx.body = rollbackPage({ ...person.frame, section: 'policy-paths' }, { ...view, reason: '' })
    },

    async 'POST /admin/policy-path/rollback'(ctx, person, params) {
      const name = text(ctx.query.name)
      const target = versionOf(params.version)
      const read = versionOf(params.current)
      const old = target === undefined ? undefined : await policyPathVersion(deps.db, name, target)
      if (!old || read === undefined) return message(ctx, 404, 'Not found', `No such version of ${name}.`, person.frame)
      // A rollback is a change like any other: a new version equal to the old one (as the API's :activate).
      const outcome = await changePolicyPathAs(deps, name, {
        document: old.document,
        reason: text(params.reason),
        confirmBroadening: params.confirm === 'yes' ? true : undefined,
        ifMatch: `"${read}"`,
        admin: `admin-person:${person.username}`,
        via: `rollback to version ${target}`,
      })
      if ('refused' in outcome) {
        const view = await rollbackView(name, target)
        ctx.status = outcome.refused.status
        ctx.body = rollbackPage(
          { ...person.frame, section: 'policy-paths' },
          {
            ...(view ?? { name, current: read, target: old.version, changes: [], yaml: '' }),
            reason: text(params.reason),
            problem: problemText(outcome),
          },
        )
        return
      }
      seeOther(ctx, saved(name, outcome))
    },
  }

  async function rollbackView(name: string, target: number | undefined) {
    const [current, old] = await Promise.all([
      currentPolicyPath(deps.db, name),
      target === undefined ? undefined : policyPathVersion(deps.db, name, target),
    ])
    if (!current || !old || target === undefined) return undefined
    return {
      name,
      current: current.version,
      target,
      changes: diffDocuments(current.document, old.document),
      yaml: lineDiff(documentYaml(current.document), documentYaml(old.document)),
    }
  }
}

const saved = (name: string, outcome: Exclude<ChangeOutcome, { refused: unknown }>) =>
  outcome.written ? pathHref(name, { saved: outcome.version }) : pathHref(name, { unchanged: 1 })

function problemText(outcome: { refused: { status: number; detail: string } }): string {
  const { status, detail } = outcome.refused
  if (status === 412) return `Someone saved this path since you opened it (${detail}). Nothing was saved.`
  if (status === 409)
    return 'This change broadens what the path lets through. Confirm it to save. Nothing was saved yet.'
  if (status === 400) return `${detail[0]?.toUpperCase()}${detail.slice(1)}. Nothing was saved.`
  return `${detail}. Nothing was saved.`
}

function refusedView(
  outcome: { refused: { status: number; detail: string; findings: ConsoleFinding[] } },
  checked: ConsoleFinding[],
) {
  const { status, findings } = outcome.refused
  // The change's own findings (a broadening, a name that is not the path's), then the warnings of the text.
  const shown = [...findings, ...checked.filter((f) => f.severity !== 'error')]
  // A broadening is said once, by its findings and the checkbox that confirms it.
  return { findings: shown, confirm: status === 409, problem: status === 409 ? undefined : problemText(outcome) }
}
