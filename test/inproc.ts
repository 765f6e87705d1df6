/**
 * The fetch command in this process (src/fetch.ts with a given environment), for tests that measure this process
 * (peak RSS) or need no child. helpers.ts `runMain` goes through src/main.ts, whose version() looks for package.json
 * relative to dist/, so it fails when run from the TypeScript sources; this calls fetchCommand directly.
 */
import { PassThrough } from 'node:stream'
import { finished } from 'node:stream/promises'
import type { CliResult } from './helpers.js'

/** Runs `y360-audit fetch …args` in-process; stdout and stderr captured. */
export async function runFetch(args: string[], opts: { env: Record<string, string>; cwd: string; now?: () => number }): Promise<CliResult> {
  const { fetchCommand } = await import('../src/fetch.js')
  const out = new PassThrough()
  const err = new PassThrough()
  let stdout = ''
  let stderr = ''
  out.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  err.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const signal = new AbortController().signal
  const code = await fetchCommand(args, { env: opts.env, cwd: opts.cwd, stdout: out, stderr: err, tty: false, now: opts.now ?? Date.now, signal, interrupted: () => undefined }, '0.0.0-test')
  out.end()
  err.end()
  await Promise.all([finished(out), finished(err)])
  return { code, signal: null, stdout, stderr }
}
