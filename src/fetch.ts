/** `y360-audit [fetch]`: configuration → logging → one run (or --watch cycles) → summary lines, outputs, exit code. */
import { loadConfig, type Config } from './config.js'
import { EXIT_CODES, Y360Error, exitCodeOf } from './errors.js'
import type { Io } from './io.js'
import { createLogger, type Logger } from './log.js'
import { helpText } from './options.js'
import { prepareDir } from './prepare.js'
import { dirname } from 'node:path'
import { run, type RunSummary } from './pipeline/run.js'
import { Progress } from './progress.js'
import { scrubber } from './secrets.js'
import { buildInfo, metricsText, summaryDocument, summaryText, writeMetricsFile, writeSummaryJson } from './summary.js'
import { showDuration } from './time.js'
import { runCycles, type Cycle } from './watch.js'

/** Logs one summary line per source (its fields at debug: the debug log file has them, the terminal does not). */
function report(log: Logger, s: RunSummary, fields: boolean): void {
  for (const r of s.sources) {
    const files = r.files.length === 0 ? 'no file touched' : `${r.files.length} file(s) touched, last ${r.files[r.files.length - 1]}`
    const state = r.ok ? (r.code === 'OUTPUT_CLOSED' ? 'stopped (stdout closed by the reader)' : 'ok') : `FAILED (${r.code})`
    const span = r.first === undefined ? '' : `; records ${r.first} .. ${r.last}`
    const mode = r.mode === 'append' ? '' : ` (${r.mode})`
    const line = `${r.source}: ${state}${mode}, fetched ${r.fetched} in ${r.pages} pages, wrote ${r.written}, dropped ${r.duplicates} duplicates, ${r.late} late arrivals, ${r.rejected} rejected, ${r.retries} retries, ${showDuration(r.durationMs)}; ${files}${span}`
    // JSON lines (stderr not a terminal) carry the summary object for machines; a terminal gets the line alone.
    if (!fields) log.debug({ summary: r }, `${r.source}: summary`)
    if (r.ok) log.info(fields ? { summary: r } : {}, line)
    else log.error(fields ? { source: r.source, code: r.code, summary: r } : { source: r.source, code: r.code }, line)
  }
}

/** Writes --summary-json and --metrics-file after each run (also failed or interrupted ones); returns an exit code. */
async function writeOutputs(cfg: Config, log: Logger, io: Io, summary: RunSummary, started: number, finished: number, cycle: number): Promise<number> {
  let code: number = EXIT_CODES.OK
  const scrub = scrubber([cfg.token])
  const build = buildInfo()
  const toStdout = (text: string): Promise<void> => new Promise((resolve) => io.stdout.write(scrub(text), () => resolve()))
  const outputs: [string | undefined, () => Promise<void>][] = [
    [cfg.summaryJson, () => (cfg.summaryJson === '-' ? toStdout(summaryText(summaryDocument(summary, started, finished, cycle))) : writeSummaryJson(cfg.summaryJson as string, summaryDocument(summary, started, finished, cycle), scrub))],
    [cfg.metricsFile, () => (cfg.metricsFile === '-' ? toStdout(metricsText(summary, finished, '', build)) : writeMetricsFile(cfg.metricsFile as string, summary, finished, build, scrub))],
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

/** One fetch run with its summary lines and output files. */
async function cycle(cfg: Config, log: Logger, io: Io, progress: Progress, n: number): Promise<Cycle> {
  const started = io.now()
  const summary = await run({ cfg, log, now: io.now, timer: io.timer, signal: io.signal, stdout: io.stdout, onProgress: (src, p) => progress.update(src, p) })
  progress.done()
  report(log, summary, !io.tty)
  const outputCode = await writeOutputs(cfg, log, io, summary, started, io.now(), n)
  return {
    exitCode: summary.exitCode === EXIT_CODES.OK ? outputCode : summary.exitCode,
    written: summary.sources.reduce((w, r) => w + r.written, 0),
    closed: summary.sources.some((r) => r.code === 'OUTPUT_CLOSED'),
  }
}

/** Runs the fetch job; returns the exit code. */
export async function fetchCommand(argv: string[], io: Io, version: string): Promise<number> {
  let cfg: Config
  try {
    cfg = loadConfig({ argv, env: io.env, cwd: io.cwd, now: io.now })
  } catch (err) {
    io.stderr.write(`y360-audit: ${(err as Error).message}\n`)
    return exitCodeOf(err)
  }
  if (cfg.help || cfg.version) {
    io.stdout.write((cfg.help ? helpText(version) : version) + '\n')
    return EXIT_CODES.OK
  }
  // The directories of the other files the run writes, created (0750) before the first request: a missing one must
  // not fail the run after records were written. (The configuration already judged them creatable.)
  for (const [flag, file] of [['state-file', cfg.stateFile], ['summary-json', cfg.summaryJson], ['metrics-file', cfg.metricsFile], ['log-file', cfg.logFile]] as const) {
    if (file === undefined || file === '-') continue
    const r = prepareDir(dirname(file), `the directory of --${flag}`)
    if (r.problem !== undefined) {
      io.stderr.write(`y360-audit: configuration problems:\n  - ${r.problem}\n`)
      return EXIT_CODES.CONFIG_INVALID
    }
  }
  const term = io.env.TERM
  const dumb = term === 'dumb'
  const progress = new Progress({ out: io.stderr, enabled: io.tty && !cfg.quiet && !dumb, now: io.now, width: io.columns })
  let logging: Awaited<ReturnType<typeof createLogger>>
  try {
    const file = cfg.logFile === undefined ? undefined : { path: cfg.logFile, maxBytes: 1024 * 1024, keep: 5 }
    const color = !dumb && (io.env.NO_COLOR ?? '') === ''
    logging = await createLogger({ level: cfg.quiet ? 'warn' : cfg.logLevel, pretty: io.tty, color, journal: !io.tty && io.journal === true, stderr: progress.logStream, file, secrets: [cfg.token] })
  } catch (err) {
    // An unusable debug log file: fail before the run, never crash it later.
    io.stderr.write(`y360-audit: ${(err as Error).message}\n`)
    return exitCodeOf(err)
  }
  const { log, close } = logging
  const onStop = (): void => log.warn(`${(io.signal.reason as { signal?: string }).signal ?? 'a signal'}: stopping; finishing the write in progress (send it again to quit at once)`)
  io.signal.addEventListener('abort', onStop, { once: true })
  // --stdout: a reader that goes away surfaces as EPIPE on the sink's write callback (a quiet end); this listener keeps
  // the stream's own 'error' event from crashing the process on the way.
  const stdoutGone = (err: Error): void => log.debug({ code: (err as NodeJS.ErrnoException).code }, 'stdout closed')
  if (cfg.stdout) io.stdout.on('error', stdoutGone)
  try {
    for (const w of cfg.warnings) log.warn(w)
    return await runCycles({ watch: cfg.watch, intervalMs: cfg.intervalMs, log, now: io.now, signal: io.signal, interrupted: () => io.interrupted(), cycle: (n) => cycle(cfg, log, io, progress, n) })
  } catch (err) {
    // Problems found when the output opens (directories, marks) read like the configuration's own: plain lines.
    if (err instanceof Y360Error && err.code === 'CONFIG_INVALID') io.stderr.write(`y360-audit: ${err.message}\n`)
    log[err instanceof Y360Error && err.code === 'CONFIG_INVALID' ? 'debug' : 'error']({ code: (err as Y360Error).code, err: err instanceof Y360Error ? undefined : err }, (err as Error).message)
    return io.interrupted() ?? exitCodeOf(err)
  } finally {
    io.signal.removeEventListener('abort', onStop)
    await close()
  }
}
