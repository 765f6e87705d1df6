/** Helpers for the reliability tests: a CLI child that can be signalled mid-run, stderr line waits, archive prefix checks. */
import { readFileSync } from 'node:fs'

// The CLI runners, the archive oracle and the PRNG live in test/helpers.ts (one of each for every test); re-exported
// for these files.
export { prefixProblems, prng, startCli, type LiveCli } from '../helpers.js'

/** Every byte of every file named, concatenated (for grepping outputs for the token). */
export function slurp(paths: string[]): string {
  return paths.map((p) => readFileSync(p, 'utf8')).join('\n')
}

/** A test message that carries the child's stderr only when the exit code is not the expected one. */
export function exits(r: { code: number | null; stderr: string }, want: number, what: string): string {
  return r.code === want ? what : `${what}; stderr:\n${r.stderr.slice(-4000)}`
}
