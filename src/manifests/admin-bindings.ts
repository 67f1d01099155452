// Only an administrator (a client holding mandate:admin) may be bound to the built-in admin resource,
// by either grant: otherwise a policy path could mint admin-audience tokens for an ordinary client.
// Checked on the state after the apply: the documents' own clients and bindings, plus the stored ones.
import { ADMIN_RESOURCE } from '../admin/bootstrap.ts'
import { ADMIN_SCOPE, type ClientDocument } from '../clients/schema.ts'
import type { Binding, PolicyPathDocument } from '../policy/schema.ts'
import type { AnyDocument, At } from './apply.ts'
import type { Finding, Located } from './load.ts'

export interface StoredAdmins {
  /** Stored client_ids holding mandate:admin. */
  admins: ReadonlySet<string>
  bindings: ReadonlyArray<Binding & { path: string }>
}

export function adminBindingFindings(
  documents: Located<AnyDocument>[],
  known: ReadonlySet<string>,
  stored: StoredAdmins,
  at: At,
): Finding[] {
  const findings: Finding[] = []
  const clients = new Map(
    documents
      .filter((d): d is Located<ClientDocument> => d.document.kind === 'Client')
      .map((d) => [d.document.metadata.name, d]),
  )
  const isAdmin = (client: string) => {
    const doc = clients.get(client)
    return doc ? doc.document.spec.scopes.includes(ADMIN_SCOPE) : stored.admins.has(client)
  }
  const paths = documents.filter((d): d is Located<PolicyPathDocument> => d.document.kind === 'PolicyPath')
  for (const doc of paths) {
    doc.document.spec.bindings.forEach((binding, index) => {
      if (binding.resource !== ADMIN_RESOURCE || !known.has(binding.client) || isAdmin(binding.client)) return
      findings.push(
        at(
          doc,
          ['spec', 'bindings', index, 'client'],
          `only a client holding ${ADMIN_SCOPE} may be bound to the admin resource ${ADMIN_RESOURCE}`,
        ),
      )
    })
  }
  // A stored binding stays in force unless its path is re-applied: its client must keep the scope.
  const applied = new Set(paths.map((p) => p.document.metadata.name))
  for (const binding of stored.bindings) {
    const doc = clients.get(binding.client)
    if (binding.resource !== ADMIN_RESOURCE || applied.has(binding.path) || !doc || isAdmin(binding.client)) continue
    findings.push(
      at(
        doc,
        ['spec', 'scopes'],
        `policy path ${binding.path} binds this client to the admin resource ${ADMIN_RESOURCE}, so it must hold ${ADMIN_SCOPE}`,
      ),
    )
  }
  return findings
}
