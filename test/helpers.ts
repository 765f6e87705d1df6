/**
 * Test helpers: the real emulator over HTTP; one CLI runner pair (`runMain` in this process, `runCli` as a child for
 * what needs a process); one archive oracle (`readArchive`, `checkArchive`, `prefixProblems`); one PRNG (`prng`, the
 * emulator's mulberry32) and one fake clock (`fakeClock`).
 */
import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { PassThrough } from 'node:stream'
import { finished } from 'node:stream/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import stableStringify from 'fast-json-stable-stringify'
import { startEmulator, type Emulator, type EmulatorOptions } from '../src/emulator/index.js'
import { Rng } from '../src/emulator/prng.js'
import type { SourceSummary } from '../src/pipeline/outcome.js'
import type { SummaryDocument } from '../src/summary.js'
import type { SourceName } from '../src/sources/descriptor.js'
import type { Timer } from '../src/sources/limiter.js'
import { ENDPOINTS } from '../src/sources/index.js'
import { utcDay } from '../src/time.js'

const HERE = dirname(fileURLToPath(import.meta.url))
/** The repository root, whether this file runs as test/helpers.ts or compiled as dist/test/helpers.js. */
export const ROOT = existsSync(join(HERE, '../package.json')) ? resolve(HERE, '..') : resolve(HERE, '../..')
export const CLI = join(ROOT, 'dist/src/cli.js')
/** The compiled commands `runMain` runs in-process (`npm test` builds first; run `npm run build` before one file). */
export const MAIN = join(ROOT, 'dist/src/main.js')
export const TOKEN = 'y0_test-token-0123456789abcdef'

export interface TapLike {
  teardown(fn: () => unknown): void
}

/**
 * A plain HTTP server on 127.0.0.1 (port 0) for one test: a hostile or odd API the emulator does not play. Closed at
 * teardown; `handler` gets the request's number since the start or the last `reset()` (1 for the first).
 */
export async function localServer(t: TapLike, handler: (req: IncomingMessage, res: ServerResponse, n: number) => void): Promise<{ url: string; requests: () => number; connections: () => number; reset: () => void }> {
  let n = 0
  let sockets = 0
  const server = createServer((req, res) => handler(req, res, ++n))
  server.on('connection', () => sockets++)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => n, connections: () => sockets, reset: () => void (n = 0) }
}

/**
 * The most recent 12:00 UTC (epoch ms): an emulator `end` for data whose day boundaries must not move with the time of
 * day the suite runs at (data ending at "now" just after midnight holds a first or last day of a few records).
 */
export function lastNoonUtc(now = Date.now()): number {
  const day = 86_400_000
  return now - ((((now % day) - day / 2) % day) + day) % day
}

/** Starts an emulator for one test and closes it at teardown. */
export async function emulator(t: TapLike, opts: EmulatorOptions = {}): Promise<Emulator> {
  const emu = await startEmulator({ token: TOKEN, org: 123, ...opts })
  t.teardown(() => emu.close())
  return emu
}

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Environment for the CLI against an emulator: token, org, URLs, fast retries, no debug log file. */
export function cliEnv(emu: Emulator, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    TZ: 'UTC',
    OAUTH_TOKEN_ARG: emu.token,
    ORGANIZATION_ID_ARG: String(emu.org),
    Y360_API_URL: emu.url,
    Y360_CLOUD_API_URL: emu.url,
    Y360_RETRY_DELAY: '5ms',
    Y360_LOG_FILE: '',
    ...extra,
  }
}

/** Collects a child's stdout, stderr and exit. */
export function collect(child: ChildProcessWithoutNullStreams): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }))
  })
}

/** What `runMain` returns: the child's view, plus the --summary-json document when `summary` was asked for. */
export interface MainResult extends CliResult {
  summary?: SummaryDocument
}

export interface MainOptions {
  env: Record<string, string>
  cwd: string
  /** The run's wall clock (epoch ms); default Date.now. Give the emulator the same clock for an exact "now". */
  now?: () => number
  /** The clock retries, Retry-After pauses and the rate limiter wait on (see `fakeTimer`); default the real one. */
  timer?: Timer
  /** Aborting it stops the run like SIGINT would (exit 130). */
  signal?: AbortSignal
  /** Adds `--summary-json <cwd>/.summary.json` and returns the parsed document as `summary`. */
  summary?: boolean
  /** Called with all of stderr so far after each write (to stop the run at a given log line). */
  onStderr?: (stderr: string) => void
}

/**
 * Runs a command in this process, as the bin would (src/main.ts with the given environment and working directory),
 * capturing stdout and stderr: for cases where no process matters (signals, exit by signal, EPIPE, SIGKILL, umask and
 * other users still need `runCli`). `signal` stops it like SIGINT would (exit 130). Like `runCli`, it runs the build in
 * dist/ (src/main.ts reads package.json relative to dist/src/).
 */
export async function runMain(argv: string[], opts: MainOptions): Promise<MainResult> {
  const summaryPath = join(opts.cwd, '.summary.json')
  const args = opts.summary === true ? [...argv, '--summary-json', summaryPath] : argv
  // The compiled build, like runCli's child: one build for both runners, and no per-file TypeScript transpile of src/.
  const { main } = (await import(pathToFileURL(MAIN).href)) as typeof import('../src/main.js')
  const out = new PassThrough()
  const err = new PassThrough()
  let stdout = ''
  let stderr = ''
  out.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  err.setEncoding('utf8').on('data', (d: string) => {
    stderr += d
    opts.onStderr?.(stderr)
  })
  const signal = opts.signal ?? new AbortController().signal
  const code = await main(args, {
    env: opts.env, cwd: opts.cwd, stdout: out, stderr: err, tty: false, now: opts.now ?? Date.now, timer: opts.timer, signal,
    interrupted: () => (signal.aborted ? 130 : undefined),
  })
  out.end()
  err.end()
  await Promise.all([finished(out), finished(err)])
  const res: MainResult = { code, signal: null, stdout, stderr }
  if (opts.summary === true) res.summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as SummaryDocument
  return res
}

/** The --summary-json entry of `source` in a `runMain(..., { summary: true })` result (throws when absent). */
export function summaryOf(r: MainResult, source: string): SourceSummary {
  const s = r.summary?.sources.find((x) => x.source === source)
  if (s === undefined) throw new Error(`no summary for ${source}: ${r.stderr.slice(-2000)}`)
  return s
}

/** The messages logged on stderr, one per line: `msg` of each JSON log line, other lines as they are. */
export function logMessages(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l !== '').map((l) => {
    if (!l.startsWith('{')) return l
    const o = JSON.parse(l) as { msg?: unknown }
    return typeof o.msg === 'string' ? o.msg : l
  })
}

/** A clock for tests: `now()` returns the current instant (epoch ms), then moves it on by `step`; `advance` moves it. */
export interface FakeClock {
  now: () => number
  advance(ms: number): void
  set(ms: number): void
}

/** A fake clock starting at `startMs` (ms); `step` ms are added after each reading (a clock that moves while read). */
export function fakeClock(startMs: number, step = 0): FakeClock {
  let at = startMs
  return {
    now: () => {
      const v = at
      at += step
      return v
    },
    advance: (ms) => void (at += ms),
    set: (ms) => void (at = ms),
  }
}

/**
 * A fake clock for the waits of a run (`MainOptions.timer`): sleeping moves it by the time asked and returns at once,
 * so a test can wait out a real Retry-After or backoff in no real time, and read exactly what was waited.
 */
export function fakeTimer(startMs: number): Timer & { slept: number[] } {
  const clock = fakeClock(startMs)
  const slept: number[] = []
  return {
    now: clock.now,
    slept,
    sleep: async (ms, signal) => {
      signal?.throwIfAborted()
      slept.push(ms)
      clock.advance(ms)
    },
  }
}

/** The tests' one seeded PRNG: the emulator's mulberry32 (`Rng`), so a seed replays the same sequence everywhere. */
export function prng(seed: number): Rng {
  return new Rng(seed)
}

export interface LiveCli {
  child: ChildProcess
  done: Promise<CliResult>
  /** Resolves with the first stderr line matching `re` (rejects if the child ends first). */
  waitLine(re: RegExp): Promise<string>
}

/**
 * The command line that runs `cmd ...args` without the test runner's process-info hook. tap's runner puts an `--import`
 * of that hook into NODE_OPTIONS of every process it spawns, and the hook re-adds itself to every child those
 * processes spawn, whatever `env` they pass: each CLI, npm or shell child then costs about 0.4 s of CPU more and writes
 * into `.tap/` (as another user it cannot). Going through `env -u NODE_OPTIONS` is the one way around the re-adding;
 * NODE_OPTIONS the test set itself (a heap cap, say) is kept, minus the hook.
 */
export function bare(cmd: string, args: string[], env?: Record<string, string | undefined>): [string, string[]] {
  const own = (env?.NODE_OPTIONS ?? '').split(/\s+/).filter((o) => o !== '' && !o.includes('@tapjs/')).join(' ')
  return ['/usr/bin/env', ['-u', 'NODE_OPTIONS', ...(own === '' ? [] : [`NODE_OPTIONS=${own}`]), cmd, ...args]]
}

/** Starts the real CLI without waiting for it. */
export function startCli(args: string[], opts: { env: Record<string, string>; cwd: string; uid?: number; gid?: number }): LiveCli {
  const [cmd, argv] = bare(process.execPath, [CLI, ...args], opts.env)
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

/** Runs the real CLI (`node dist/src/cli.js ...args`) to completion. */
export function runCli(args: string[], opts: { env: Record<string, string>; cwd: string; stdin?: string }): Promise<CliResult> {
  const [cmd, argv] = bare(process.execPath, [CLI, ...args], opts.env)
  const child = spawn(cmd, argv, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] })
  child.stdin.end(opts.stdin ?? '')
  return collect(child)
}

export interface ArchiveContent {
  /** day → parsed records in file order */
  days: Map<string, Record<string, unknown>[]>
  /** every line, in file order across days */
  lines: string[]
}

/** Reads `<dir>/<base>_<day>.<ext>` files in day order. */
export function readArchive(dir: string, base: string, ext = 'json'): ArchiveContent {
  const re = new RegExp(`^${base}_(\\d{4}-\\d{2}-\\d{2})\\.${ext}$`)
  const names = readdirSync(dir).filter((n) => re.test(n)).sort()
  const days = new Map<string, Record<string, unknown>[]>()
  const lines: string[] = []
  for (const n of names) {
    const text = readFileSync(join(dir, n), 'utf8')
    const ls = text.split('\n')
    if (ls.pop() !== '') throw new Error(`${n} does not end with a newline`)
    lines.push(...ls)
    days.set((re.exec(n) as RegExpExecArray)[1], ls.map((l) => JSON.parse(l) as Record<string, unknown>))
  }
  return { days, lines }
}

export interface CheckResult {
  missing: number
  extra: number
  duplicates: number
  wrongDay: number
  outOfOrder: number
  total: number
}

/**
 * Compares an archive with the ground truth: nothing missing, nothing extra or twice, each record in the file of its
 * UTC day, ascending within each file and across files (allowing `toleranceUs` back-steps for late arrivals).
 */
export function checkArchive(source: SourceName, archive: ArchiveContent, truth: object[], toleranceUs = 0): CheckResult {
  const ep = ENDPOINTS[source]
  const want = new Map<string, number>()
  for (const r of truth) want.set(stableStringify(r), (want.get(stableStringify(r)) ?? 0) + 1)
  const seen = new Map<string, number>()
  const res: CheckResult = { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: 0 }
  let newest = -Infinity
  for (const [day, recs] of archive.days) {
    for (const r of recs) {
      res.total++
      const us = ep.timestamp(r) as number
      if (utcDay(us) !== day) res.wrongDay++
      if (us < newest - toleranceUs) res.outOfOrder++
      newest = Math.max(newest, us)
      const k = stableStringify(r)
      seen.set(k, (seen.get(k) ?? 0) + 1)
    }
  }
  for (const [k, n] of seen) {
    const w = want.get(k) ?? 0
    if (w === 0) res.extra += n
    else if (n > w) res.duplicates += n - w
  }
  for (const [k, w] of want) res.missing += Math.max(0, w - (seen.get(k) ?? 0))
  return res
}

export const EXACT: CheckResult = { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: 0 }

/** The CheckResult of an exact archive of `total` records. */
export function exact(total: number): CheckResult {
  return { ...EXACT, total }
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
