// mandate/resource-server ships to other people's servers: it may import only jose and node:
// builtins, and nothing outside sdk/ (no src/ module comes with it).
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
import { expect, it } from 'vitest'

const files = [
  'sdk/resource-server.ts',
  ...readdirSync('sdk/resource-server', { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => `sdk/resource-server/${file}`),
]

it.each(files)('%s imports only jose, node: builtins and sdk/ modules', (file) => {
  const specifiers = [...readFileSync(file, 'utf8').matchAll(/\b(?:from|import)\s*\(?\s*'([^']+)'/g)].map(
    (m) => m[1] as string,
  )
  const outside = specifiers.filter((specifier) =>
    specifier.startsWith('.')
      ? !normalize(join(dirname(file), specifier)).startsWith('sdk/')
      : specifier !== 'jose' && !specifier.startsWith('node:'),
  )
  expect(outside).toEqual([])
})
