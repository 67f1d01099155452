// The client helpers (sdk/) as a consumer gets them: the packages they may import, and the package's
// exports (each `mandate/<name>` specifier package.json serves).
import { readFileSync } from 'node:fs'

export const root = new URL('../../', import.meta.url).pathname

/** The only packages a helper may import besides node: builtins (docs/decisions/0014). */
export const SDK_PACKAGES = ['jose', 'oauth4webapi'] as const

const manifest = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as {
  exports: Record<string, Record<string, string>>
  scripts: Record<string, string>
}

/** `mandate/agent`, … : every subpath export of package.json. */
export const sdkSpecifiers = Object.keys(manifest.exports).map((subpath) => `mandate${subpath.slice(1)}`)
export const exportsOf = manifest.exports
export const prepack = manifest.scripts.prepack as string
