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

/**
 * Runs a command in this process through the built `main` (dist/src/main.js, the code the bin runs), with its own
 * environment, working directory and clock, capturing stdout and stderr. For every case where no process matters;
 * signals, exit by signal, SIGKILL, another user and the umask need `runCli`/`startCli`. `signal` stops the run as the
 * first SIGINT would (exit 130).
 * (Not helpers.ts's runMain: that one imports src/main.ts, whose version() then reads ../../package.json from src/ and
 * fails with ENOENT.)
 */
export async function runIn(args: string[], opts: { env: Record<string, string>; cwd: string; now?: () => number; signal?: AbortSignal }): Promise<CliResult> {
  const { main } = (await import(pathToFileURL(join(ROOT, 'dist/src/main.js')).href)) as typeof import('../../src/main.js')
  const out = new PassThrough()
  const err = new PassThrough()
  let stdout = ''
  let stderr = ''
  out.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  err.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const signal = opts.signal ?? new AbortController().signal
  const code = await main(args, {
    env: opts.env, cwd: opts.cwd, stdout: out, stderr: err, tty: false, now: opts.now ?? Date.now, signal,
    interrupted: () => (signal.aborted ? 130 : undefined),
  })
  out.end()
  err.end()
  await Promise.all([finished(out), finished(err)])
  return { code, signal: null, stdout, stderr }
}

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

export interface LiveCli {
  child: ChildProcess
  done: Promise<CliResult>
  /** Resolves with the first stderr line matching `re` (rejects if the child ends first). */
  waitLine(re: RegExp): Promise<string>
}

/** Starts the real CLI without waiting for it. */
export function startCli(args: string[], opts: { env: Record<string, string>; cwd: string; uid?: number; gid?: number }): LiveCli {
  // As another user, drop NODE_OPTIONS: the test runner's process-info hook would try to write into .tap/ as that user.
  const [cmd, argv] = opts.uid === undefined ? [process.execPath, [CLI, ...args]] : ['env', ['-u', 'NODE_OPTIONS', process.execPath, CLI, ...args]]
  const child = spawn(cmd, argv, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], uid: opts.uid, gid: opts.gid })
  let stdout = ''
  let stderr = ''
  let partial = ''
  const waiters: { re: RegExp; resolve: (l: string) => void; reject: (e: Error) => void }[] = []
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d
    const lines = (partial + d).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) {
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i].re.test(line)) {
          waiters[i].resolve(line)
          waiters.splice(i, 1)
        }
      }
    }
  })
  // A test that times out (or throws) must not leave the CLI running, still holding its lock and fixture directory.
  const orphan = (): void => void child.kill('SIGKILL')
  process.once('exit', orphan)
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      process.off('exit', orphan)
      for (const w of waiters.splice(0)) w.reject(new Error(`the CLI ended (code ${code}, signal ${signal}) before a line matching ${w.re}; stderr:\n${stderr}`))
      resolve({ code, signal, stdout, stderr })
    })
  })
  return {
    child,
    done,
    waitLine: (re) => new Promise((resolve, reject) => waiters.push({ re, resolve, reject })),
  }
}

/**
 * Checks that an archive is a valid prefix of the truth: every archived record is in the truth once, and every truth
 * record older than the newest archived instant minus `toleranceUs` is archived. Returns the problems (empty = valid).
 */
export function prefixProblems(source: SourceName, archive: ArchiveContent, truth: object[], toleranceUs = 0): string[] {
  const ep = ENDPOINTS[source]
  const want = new Set(truth.map((r) => stableStringify(r)))
  const seen = new Set<string>()
  const problems: string[] = []
  let newest = -Infinity
  for (const recs of archive.days.values()) {
    for (const r of recs) {
      const k = stableStringify(r)
      if (!want.has(k)) problems.push(`not in the truth: ${k.slice(0, 120)}`)
      if (seen.has(k)) problems.push(`twice: ${k.slice(0, 120)}`)
      seen.add(k)
      newest = Math.max(newest, ep.timestamp(r as Record<string, unknown>) as number)
    }
  }
  for (const r of truth) {
    const us = ep.timestamp(r as Record<string, unknown>) as number
    if (us < newest - toleranceUs && !seen.has(stableStringify(r))) problems.push(`missing before the newest archived record: ${stableStringify(r).slice(0, 120)}`)
  }
  return problems.slice(0, 20)
}

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

/** A small seeded PRNG (mulberry32): the same seed replays the same kill schedule. */
export function prng(seed: number): { next: () => number; int: (n: number) => number } {
  let a = seed >>> 0
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
  return { next, int: (n) => Math.floor(next() * n) }
}
