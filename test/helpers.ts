/** Test helpers: the real emulator over HTTP, the real CLI as a child process, and an archive checker. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { PassThrough } from 'node:stream'
import { finished } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import stableStringify from 'fast-json-stable-stringify'
import { startEmulator, type Emulator, type EmulatorOptions } from '../src/emulator/index.js'
import type { SourceName } from '../src/sources/descriptor.js'
import { ENDPOINTS } from '../src/sources/index.js'
import { utcDay } from '../src/time.js'

export const ROOT = resolve(fileURLToPath(import.meta.url), '../..')
export const CLI = join(ROOT, 'dist/src/cli.js')
export const TOKEN = 'y0_test-token-0123456789abcdef'

interface TapLike {
  teardown(fn: () => unknown): void
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

/**
 * Runs a command in this process, as the bin would (src/main.ts with the given environment and working directory),
 * capturing stdout and stderr: for cases where no process matters (signals, exit by signal, EPIPE, SIGKILL, umask and
 * other users still need `runCli`). `signal` stops it like SIGINT would (exit 130).
 */
export async function runMain(args: string[], opts: { env: Record<string, string>; cwd: string; now?: () => number; signal?: AbortSignal }): Promise<CliResult> {
  const { main } = await import('../src/main.js')
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

/** Runs the real CLI (`node dist/src/cli.js ...args`) to completion. */
export function runCli(args: string[], opts: { env: Record<string, string>; cwd: string; stdin?: string }): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] })
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
