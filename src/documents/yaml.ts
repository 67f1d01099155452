// A document as the YAML `mandate apply` reads (for diffs and, later, `mandate export`): the stored JSON,
// in its own key order, without anchors or line folding, so two versions diff line by line.
import { parseAllDocuments, stringify } from 'yaml'

export const documentYaml = (document: unknown): string =>
  stringify(document, { aliasDuplicateObjects: false, lineWidth: 0 }).trimEnd()

/** The documents of a YAML (or JSON) text as plain values: for a text already validated (manifests/validate.ts). */
export const parseYamlDocuments = (text: string): unknown[] =>
  parseAllDocuments(text, { uniqueKeys: true, merge: false }).flatMap((document) =>
    'contents' in document && document.contents !== null ? [document.toJS()] : [],
  )
