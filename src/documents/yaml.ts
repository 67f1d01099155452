// A document as the YAML `mandate apply` reads (for diffs and, later, `mandate export`): the stored JSON,
// in its own key order, without anchors or line folding, so two versions diff line by line.
import { parseAllDocuments, stringify } from 'yaml'

export const documentYaml = (document: unknown): string =>
  stringify(document, { aliasDuplicateObjects: false, lineWidth: 0 }).trimEnd()

/** The documents of a YAML (or JSON) text as plain values (throws on a text that is not YAML). */
export const parseYamlDocuments = (text: string): unknown[] =>
  parseAllDocuments(text, { uniqueKeys: true, merge: false }).flatMap((document) => {
    // Not YAML at all: thrown, never read as whatever part of it parsed.
    if (document.errors.length > 0) throw document.errors[0]
    return 'contents' in document && document.contents !== null ? [document.toJS()] : []
  })
