// A document as the YAML `mandate apply` reads (for diffs and, later, `mandate export`): the stored JSON,
// in its own key order, without anchors or line folding, so two versions diff line by line.
import { stringify } from 'yaml'

export const documentYaml = (document: unknown): string =>
  stringify(document, { aliasDuplicateObjects: false, lineWidth: 0 }).trimEnd()
