/** This package's own package.json: one level above the source module (src/), two above the compiled one (dist/src/). */
import { readFileSync } from 'node:fs'

/** The package's version. */
export function packageVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    let text: string
    try {
      text = readFileSync(new URL(rel, import.meta.url), 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
      throw err
    }
    const pkg = JSON.parse(text) as { name?: string; version: string }
    if (pkg.name === 'y360-audit') return pkg.version
  }
  throw new Error('package.json of y360-audit not found beside the code')
}
