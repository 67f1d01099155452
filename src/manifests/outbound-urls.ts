// `apply` refuses a document whose URLs the server would fetch break the outbound rules (https in
// production; no loopback, link-local or metadata host unless allowed). See outbound/rules.ts.
import { type OutboundRules, urlProblem } from '../outbound/rules.ts'
import type { AnyDocument, At } from './apply.ts'
import type { Finding, Located } from './load.ts'

/** Every URL field the server fetches, by document kind. */
function fetchedUrls(document: AnyDocument): Array<[field: string, url: string | undefined]> {
  // An issuer that signs people in is asked for its metadata at `issuer`/.well-known/openid-configuration.
  if (document.kind === 'Issuer')
    return [
      ['jwksUri', document.spec.jwksUri],
      ['issuer', document.spec.login ? document.spec.issuer : undefined],
    ]
  if (document.kind === 'Resource') return [['revocationWebhook', document.spec.revocationWebhook]]
  if (document.kind === 'Client') return [['approvalWebhook', document.spec.approvalWebhook]]
  return []
}

export function outboundUrlFindings(documents: Located<AnyDocument>[], rules: OutboundRules, at: At): Finding[] {
  return documents.flatMap((doc) =>
    fetchedUrls(doc.document).flatMap(([field, url]) => {
      const problem = url === undefined ? undefined : urlProblem(url, rules)
      return problem ? [at(doc, ['spec', field], problem)] : []
    }),
  )
}
