/**
 * Helpers for the reliability tests: a CLI child that can be signalled mid-run, stderr line waits, a command run in this
 * process, the run's summaries and log lines read from stderr, archive prefix checks.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { finished } from 'node:stream/promises'
import { pathToFileURL } from 'node:url'
import stableStringify from 'fast-json-stable-stringify'
import type { SourceSummary } from '../../src/pipeline/outcome.js'
import type { SourceName } from '../../src/sources/descriptor.js'
import { ENDPOINTS } from '../../src/sources/index.js'
import { CLI, ROOT, type ArchiveContent, type CliResult } from '../helpers.js'

/** The JSON log lines of a run's stderr (the CLI logs JSON when stderr is not a terminal); other lines are skipped. */
export function logLines(stderr: string): Record<string, unknown>[] {
  return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
}

/** The summary the run logged for `source` (the same object --summary-json writes); throws when there is none. */
export function summaryOf(r: { stderr: string }, source: SourceName): SourceSummary {
  const s = logLines(r.stderr).map((l) => l.summary as SourceSummary | undefined).find((x) => x?.source === source)
  if (s === undefined) throw new Error(`no summary for ${source} on stderr:\n${r.stderr.slice(-4000)}`)
  return s
}

// The CLI runners, the archive oracle and the PRNG live in test/helpers.ts (one of each for every test); re-exported
// for these files.
export { prefixProblems, prng, startCli, type LiveCli } from '../helpers.js'

/** Complete lines in the day files (`*.json`) of an archive directory now; 0 when it does not exist (yet). */
export function archivedLines(dir: string): number {
  if (!existsSync(dir)) return 0
  return readdirSync(dir).filter((f) => f.endsWith('.json')).reduce((n, f) => n + readFileSync(join(dir, f), 'utf8').split('\n').length - 1, 0)
}

/** Every byte of every file named, concatenated (for grepping outputs for the token). */
export function slurp(paths: string[]): string {
  return paths.map((p) => readFileSync(p, 'utf8')).join('\n')
}

/** A test message that carries the child's stderr only when the exit code is not the expected one. */
export function exits(r: { code: number | null; stderr: string }, want: number, what: string): string {
  return r.code === want ? what : `${what}; stderr:\n${r.stderr.slice(-4000)}`
}
