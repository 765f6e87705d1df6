#!/usr/bin/env -S node --max-old-space-size=256 --max-semi-space-size=8
/**
 * y360-audit command line: argv → config → run → exit code. Thin on purpose.
 * The shebang caps V8's heap growth: the live heap stays under 30 MB whatever the volume, but without a cap V8 lets
 * garbage grow the heap to several hundred MB on long backfills (see bench/RESULTS.md).
 */
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { loadConfig, type Config } from './config.js'
import { EXIT_CODES, Y360Error, exitCodeOf } from './errors.js'
import { createLogger, type Logger } from './log.js'
import { helpText } from './options.js'
import { run, type RunSummary } from './pipeline/run.js'
import { Progress } from './progress.js'
import { summaryDocument, writeMetricsFile, writeSummaryJson } from './summary.js'
import { showDuration } from './time.js'

const COMMANDS = new Set(['fetch', 'demo', 'emulator', 'verify'])

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

/** Logs one summary line per source. */
function report(log: Logger, s: RunSummary): void {
  for (const r of s.sources) {
    const files = r.files.length === 0 ? 'no file touched' : `${r.files.length} file(s) touched, last ${r.files[r.files.length - 1]}`
    const state = r.ok ? (r.code === 'OUTPUT_CLOSED' ? 'stopped (stdout closed by the reader)' : 'ok') : `FAILED (${r.code})`
    const span = r.first === undefined ? '' : `; records ${r.first} .. ${r.last}`
    const mode = r.mode === 'append' ? '' : ` (${r.mode})`
    const line = `${r.source}: ${state}${mode}, fetched ${r.fetched} in ${r.pages} pages, wrote ${r.written}, dropped ${r.duplicates} duplicates, ${r.late} late arrivals, ${r.rejected} rejected, ${r.retries} retries, ${showDuration(r.durationMs)}; ${files}${span}`
    if (r.ok) log.info({ summary: r }, line)
    else log.error({ summary: r }, line)
  }
}

/** Stops the run on the first SIGINT/SIGTERM (flush + fsync + exit 130/143); a second one exits at once. */
function trapSignals(log: Logger): { signal: AbortSignal; code: () => number | undefined; dispose: () => void } {
  const ac = new AbortController()
  let code: number | undefined
  const handler = (sig: NodeJS.Signals): void => {
    const c = sig === 'SIGTERM' ? 143 : EXIT_CODES.INTERRUPTED
    if (code !== undefined) {
      process.exit(c) // second signal: the archive is a valid prefix at any instant
    }
    code = c
    log.warn(`${sig}: stopping; finishing the write in progress (send it again to quit at once)`)
    ac.abort(new Y360Error('INTERRUPTED', `stopped by ${sig}`))
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return {
    signal: ac.signal,
    code: () => code,
    dispose: () => {
      // Once stopping, stay trapped to the end: a second signal while the last lines are logged still exits with its
      // code at once, instead of the default death by signal.
      if (code !== undefined) return
      process.off('SIGINT', handler)
      process.off('SIGTERM', handler)
    },
  }
}

/** Writes --summary-json and --metrics-file after each run (also failed or interrupted ones); returns an exit code. */
async function writeOutputs(cfg: Config, log: Logger, summary: RunSummary, started: number, cycle: number): Promise<number> {
  const finished = Date.now()
  let code: number = EXIT_CODES.OK
  const outputs: [string | undefined, () => Promise<void>][] = [
    [cfg.summaryJson, () => writeSummaryJson(cfg.summaryJson as string, summaryDocument(summary, started, finished, cycle))],
    [cfg.metricsFile, () => writeMetricsFile(cfg.metricsFile as string, summary, finished)],
  ]
  for (const [path, write] of outputs) {
    if (path === undefined) continue
    try {
      await write()
    } catch (err) {
      log.error({ code: (err as Y360Error).code }, (err as Error).message)
      code = exitCodeOf(err)
    }
  }
  return code
}

async function fetchCommand(argv: string[]): Promise<number> {
  let cfg: Config
  try {
    cfg = loadConfig({ argv, env: process.env, cwd: process.cwd(), now: Date.now })
  } catch (err) {
    process.stderr.write(`y360-audit: ${(err as Error).message}\n`)
    return exitCodeOf(err)
  }
  if (cfg.help) {
    process.stdout.write(helpText(version()) + '\n')
    return 0
  }
  if (cfg.version) {
    process.stdout.write(version() + '\n')
    return 0
  }
  const level = cfg.quiet ? 'warn' : cfg.logLevel
  const progress = new Progress({ out: process.stderr, enabled: process.stderr.isTTY === true && !cfg.quiet, now: Date.now, width: process.stderr.columns })
  let logging: Awaited<ReturnType<typeof createLogger>>
  try {
    logging = await createLogger({
      level,
      pretty: process.stderr.isTTY === true,
      stderr: progress.logStream,
      file: cfg.logFile === undefined ? undefined : { path: cfg.logFile, maxBytes: 1024 * 1024, keep: 5 },
      secrets: [cfg.token],
    })
  } catch (err) {
    // An unusable debug log file: fail before the run, never crash it later.
    process.stderr.write(`y360-audit: ${(err as Error).message}\n`)
    return exitCodeOf(err)
  }
  const { log, close } = logging
  const signals = trapSignals(log)
  // --stdout: a reader that goes away surfaces as EPIPE on the sink's write callback (a quiet end); this listener keeps
  // the stream's own 'error' event from crashing the process on the way.
  const stdoutGone = (err: Error): void => log.debug({ code: (err as NodeJS.ErrnoException).code }, 'stdout closed')
  if (cfg.stdout) process.stdout.on('error', stdoutGone)
  try {
    for (const w of cfg.warnings) log.warn(w)
    for (let cycle = 1; ; cycle++) {
      const started = Date.now()
      const summary = await run({ cfg, log, now: Date.now, signal: signals.signal, onProgress: (src, p) => progress.update(src, p) })
      progress.done()
      report(log, summary)
      const outputCode = await writeOutputs(cfg, log, summary, started, cycle)
      const interrupted = signals.code()
      if (interrupted !== undefined) return interrupted
      const exitCode = summary.exitCode === EXIT_CODES.OK ? outputCode : summary.exitCode
      if (!cfg.watch) return exitCode
      if (summary.sources.some((r) => r.code === 'OUTPUT_CLOSED')) {
        log.info(`cycle ${cycle}: stdout closed by the reader; watch ends`)
        return EXIT_CODES.OK
      }
      const written = summary.sources.reduce((n, r) => n + r.written, 0)
      log.info({ cycle, exitCode, written }, `cycle ${cycle} done: exit ${exitCode}, ${written} records written in ${showDuration(Date.now() - started)}; next run in ${showDuration(cfg.intervalMs)}`)
      try {
        await sleep(cfg.intervalMs, undefined, { signal: signals.signal })
      } catch {
        return signals.code() ?? EXIT_CODES.INTERRUPTED
      }
    }
  } catch (err) {
    log.error({ code: (err as Y360Error).code, err: err instanceof Y360Error ? undefined : err }, (err as Error).message)
    return signals.code() ?? exitCodeOf(err)
  } finally {
    signals.dispose()
    await close()
  }
}

/** Entry point: returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const cmd = argv[0] !== undefined && COMMANDS.has(argv[0]) ? argv[0] : 'fetch'
  const rest = argv[0] === cmd ? argv.slice(1) : argv
  if (cmd === 'emulator') return (await import('./emulator/cli.js')).emulatorMain(rest)
  if (cmd === 'demo') return (await import('./demo.js')).demoMain(rest)
  if (cmd === 'verify') return (await import('./verify.js')).verifyMain(rest)
  return fetchCommand(rest)
}

/** `text` without any token this process was given (environment or --token), for crash traces that bypass the logger. */
function scrubSecrets(text: string, argv: string[], env: NodeJS.ProcessEnv): string {
  const secrets = [env.OAUTH_TOKEN_ARG ?? '']
  argv.forEach((a, i) => {
    if (a === '--token') secrets.push(argv[i + 1] ?? '')
    else if (a.startsWith('--token=')) secrets.push(a.slice('--token='.length))
  })
  let out = text
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[REDACTED]')
  return out
}

const crash = (err: unknown): void => {
  process.stderr.write(scrubSecrets(`y360-audit: internal error: ${err instanceof Error ? err.stack : String(err)}\n`, process.argv, process.env))
  process.exit(EXIT_CODES.INTERNAL)
}
process.on('uncaughtException', crash)
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code
}, crash)
