// Reads YAML documents (several per file, folders recursively) and validates every one of them
// against its kind's zod schema. Every problem is a finding at file:line:col; nothing is written here.
import { createHash } from 'node:crypto'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { type Document, isMap, isNode, isScalar, LineCounter, parseAllDocuments } from 'yaml'
import type * as z from 'zod'

export interface Finding {
  file: string
  line: number
  column: number
  message: string
  /** Dotted path inside the document, when the finding is about one field. */
  path?: string
}

export interface Located<T> {
  file: string
  line: number
  column: number
  document: T
  /** The sha-256 (hex) of the file's bytes (of the text, for a document not read from a file): its source. */
  digest: string
  /** Where a field of this document is; falls back to the document's own position. */
  locate(path: readonly PropertyKey[]): { line: number; column: number }
}

export interface LoadResult<T> {
  documents: Located<T>[]
  findings: Finding[]
}

/** A file of policy test cases (policy-paths/tests/*.test.yaml). */
export const TEST_FILE = /\.test\.ya?ml$/

export const formatFinding = (f: Finding): string =>
  `${f.file}:${f.line}:${f.column}: ${f.message}${f.path ? ` (at ${f.path})` : ''}`

/**
 * Lists .yaml/.yml files under each path (a file or a folder, recursively), sorted. In a folder, `*.test.yaml`
 * files are policy test cases (`mandate policy test`), not documents: they are left out.
 */
export async function yamlFiles(paths: readonly string[]): Promise<string[]> {
  const files: string[] = []
  for (const path of paths) {
    if ((await stat(path)).isFile()) {
      files.push(path)
      continue
    }
    const entries = await readdir(path, { recursive: true, withFileTypes: true })
    for (const entry of entries) {
      if (entry.isFile() && /\.ya?ml$/.test(entry.name) && !TEST_FILE.test(entry.name))
        files.push(join(entry.parentPath, entry.name))
    }
  }
  return [...new Set(files)].sort()
}

export async function loadDocuments<T>(
  paths: readonly string[],
  schemaFor: (kind: unknown) => z.ZodType<T> | undefined,
  kinds: readonly string[],
): Promise<LoadResult<T>> {
  const documents: Located<T>[] = []
  const findings: Finding[] = []
  let files: string[]
  try {
    files = await yamlFiles(paths)
  } catch (error) {
    return { documents, findings: [{ file: paths.join(', '), line: 1, column: 1, message: (error as Error).message }] }
  }
  for (const file of files) {
    const bytes = await readFile(file)
    const digest = createHash('sha256').update(bytes).digest('hex')
    const shown = relative(process.cwd(), file) || file
    const parsed = parseDocuments(bytes.toString('utf8'), shown, schemaFor, kinds, digest)
    documents.push(...parsed.documents)
    findings.push(...parsed.findings)
  }
  return { documents, findings }
}

/** The documents of one YAML (or JSON) text, validated against their kinds' schemas; `file` names it in findings. */
export function parseDocuments<T>(
  text: string,
  shown: string,
  schemaFor: (kind: unknown) => z.ZodType<T> | undefined,
  kinds: readonly string[],
  digest: string = createHash('sha256').update(text).digest('hex'),
): LoadResult<T> {
  const documents: Located<T>[] = []
  const findings: Finding[] = []
  const lineCounter = new LineCounter()
  for (const doc of parseAllDocuments(text, { lineCounter, uniqueKeys: true, merge: false })) {
    if (!('contents' in doc)) continue
    const position = (offset: number) => {
      const { line, col } = lineCounter.linePos(offset)
      return { line, column: col }
    }
    if (doc.errors.length > 0) {
      for (const error of doc.errors) {
        const message = (error.message.split('\n')[0] as string).replace(/ at line \d+, column \d+:?$/, '')
        findings.push({ file: shown, ...position(error.pos[0]), message })
      }
      continue
    }
    if (doc.contents === null) continue // an empty document (for example a trailing ---)
    const at = position(doc.contents.range?.[0] ?? 0)
    const locate = (path: readonly PropertyKey[]) => position(nodeOffset(doc, path) ?? doc.contents?.range?.[0] ?? 0)
    const value = doc.toJS() as { kind?: unknown } | null
    const schema = schemaFor(value?.kind)
    if (!schema) {
      findings.push({
        file: shown,
        ...locate(['kind']),
        message: `kind must be one of ${kinds.join(', ')}`,
        path: 'kind',
      })
      continue
    }
    const parsed = schema.safeParse(value)
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        if (issue.code === 'unrecognized_keys') {
          for (const key of issue.keys) {
            const path = [...issue.path, key]
            const where = position(keyOffset(doc, path) ?? nodeOffset(doc, issue.path) ?? 0)
            findings.push({
              file: shown,
              ...where,
              message: `unknown field ${key}`,
              path: path.map(String).join('.'),
            })
          }
          continue
        }
        findings.push({
          file: shown,
          ...locate(issue.path),
          message: issue.message,
          path: issue.path.map(String).join('.'),
        })
      }
      continue
    }
    documents.push({ file: shown, ...at, document: parsed.data, digest, locate })
  }
  return { documents, findings }
}

/** Offset of the key of the field at path (where an unknown field should be pointed out). */
function keyOffset(doc: Document, path: readonly PropertyKey[]): number | undefined {
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1) as unknown[], true)
  if (!isMap(parent)) return undefined
  const pair = parent.items.find((item) => isScalar(item.key) && item.key.value === path.at(-1))
  return isScalar(pair?.key) ? pair.key.range?.[0] : undefined
}

/** Offset of the deepest node that exists along path (a missing field points at its parent). */
function nodeOffset(doc: Document, path: readonly PropertyKey[]): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth) as unknown[], true)
    if (isNode(node) && node.range) return node.range[0]
  }
  return undefined
}
