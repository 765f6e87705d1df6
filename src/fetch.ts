/**
 * `y360-audit [fetch]`: configuration → logging → one run (or --watch cycles) → summary lines, outputs, exit code. With
 * --config, each run is every organisation of the file (src/orgs.ts), with one summary document and metrics file.
 */
import { getHeapStatistics } from 'node:v8'
import { loadPlan, type Config, type Plan } from './config.js'
import { EXIT_CODES, Y360Error, exitCodeOf } from './errors.js'
import type { Io } from './io.js'
import { createLogger, type Logger } from './log.js'
import { helpText } from './options.js'
import { prepareDir } from './prepare.js'
import { dirname } from 'node:path'
import { run, type RunSummary } from './pipeline/run.js'
import { Progress } from './progress.js'
import { scrubber } from './secrets.js'
import { orgsExit, runOrgs } from './orgs.js'
import { buildInfo, metricsText, orgsMetricsText, orgsSummaryDocument, summaryDocument, summaryText, writeMetricsWith, writeSummaryJson, type OrgsSummaryDocument, type SummaryDocument } from './summary.js'
import { showDuration } from './time.js'
import { runCycles, type Cycle } from './watch.js'
import { Limiters } from './sources/limiter.js'

/** Logs one summary line per source (its fields at debug: the debug log file has them, the terminal does not). */
function report(log: Logger, s: RunSummary, fields: boolean): void {
  for (const r of s.sources) {
    const files = r.files.length === 0 ? 'no file touched' : `${r.files.length} file(s) touched, last ${r.files[r.files.length - 1]}`
    const state = r.ok ? (r.code === 'OUTPUT_CLOSED' ? 'stopped (stdout closed by the reader)' : 'ok') : `FAILED (${r.code})`
    const span = r.first === undefined ? '' : `; records ${r.first} .. ${r.last}`
    const mode = r.mode === 'append' ? '' : ` (${r.mode})`
    const recheck = r.recheck === undefined ? '' : ` (re-check of ${r.recheck.days} day(s) before sealing: ${r.recheck.late} more${r.recheck.late > 0 ? `, up to ${showDuration(r.recheck.maxLateMs)} late` : ''})`
    const line = `${r.source}: ${state}${mode}, fetched ${r.fetched} in ${r.pages} pages, wrote ${r.written}, dropped ${r.duplicates} duplicates, ${r.late} late arrivals${recheck}, ${r.rejected} rejected, ${r.retries} retries, ${showDuration(r.durationMs)}; ${files}${span}`
    // JSON lines (stderr not a terminal) carry the summary object for machines; a terminal gets the line alone.
    if (!fields) log.debug({ summary: r }, `${r.source}: summary`)
    if (r.ok) log.info(fields ? { summary: r } : {}, line)
    else log.error(fields ? { source: r.source, code: r.code, summary: r } : { source: r.source, code: r.code }, line)
  }
}

/** What a run's --summary-json and --metrics-file hold: the document, and the textfile made of the previous one's text. */
interface RunOutputs {
  doc: () => SummaryDocument | OrgsSummaryDocument
  metrics: (previous: string) => string
}

/** Writes --summary-json and --metrics-file after each run (also failed or interrupted ones); returns an exit code. */
async function writeOutputs(cfg: Config, log: Logger, io: Io, secrets: readonly string[], o: RunOutputs): Promise<number> {
  let code: number = EXIT_CODES.OK
  const scrub = scrubber([...secrets])
  const toStdout = (text: string): Promise<void> => new Promise((resolve) => io.stdout.write(scrub(text), () => resolve()))
  const outputs: [string | undefined, () => Promise<void>][] = [
    [cfg.summaryJson, () => (cfg.summaryJson === '-' ? toStdout(summaryText(o.doc())) : writeSummaryJson(cfg.summaryJson as string, o.doc(), scrub))],
    [cfg.metricsFile, () => (cfg.metricsFile === '-' ? toStdout(o.metrics('')) : writeMetricsWith(cfg.metricsFile as string, o.metrics, scrub))],
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
async function cycle(cfg: Config, log: Logger, io: Io, progress: Progress, n: number, limiters: Limiters): Promise<Cycle> {
  const started = io.now()
  const summary = await run({ cfg, log, now: io.now, timer: io.timer, signal: io.signal, stdout: io.stdout, limiters, onProgress: (src, p) => progress.update(src, p), tool: `y360-audit ${buildInfo().version}` })
  progress.done()
  report(log, summary, !io.tty)
  const finished = io.now()
  const build = buildInfo()
  const outputCode = await writeOutputs(cfg, log, io, [cfg.token], { doc: () => summaryDocument(summary, started, finished, n), metrics: (previous) => metricsText(summary, finished, previous, build) })
  return {
    exitCode: summary.exitCode === EXIT_CODES.OK ? outputCode : summary.exitCode,
    written: summary.sources.reduce((w, r) => w + r.written, 0),
    closed: summary.sources.some((r) => r.code === 'OUTPUT_CLOSED'),
  }
}

/** One run of every organisation of the config file: summary lines as each ends, one summary and metrics file for all. */
async function orgsCycle(plan: Plan, log: Logger, io: Io, progress: Progress, n: number, limiters: Limiters): Promise<Cycle> {
  const started = io.now()
  const results = await runOrgs({ plan, log, now: io.now, timer: io.timer, limiters, tool: `y360-audit ${buildInfo().version}`, signal: io.signal, onProgress: (org, src, p) => progress.update(`${org.name}/${src}`, p), onDone: (r, olog) => report(olog, r.summary, !io.tty) })
  progress.done()
  const exitCode = orgsExit(results)
  const failed = results.filter((r) => r.summary.exitCode !== EXIT_CODES.OK)
  if (failed.length > 0) log.error({ failed: failed.map((r) => r.org.name) }, `${failed.length} of ${results.length} organisation(s) failed: ${failed.map((r) => `${r.org.name} (exit ${r.summary.exitCode})`).join(', ')}; exit ${exitCode}`)
  const finished = io.now()
  const build = buildInfo()
  const orgs = results.map((r) => ({ org: r.org.config.org, name: r.org.name, summary: r.summary }))
  const outputCode = await writeOutputs(plan.process, log, io, plan.orgs.map((o) => o.config.token), {
    doc: () => orgsSummaryDocument(orgs, exitCode, started, finished, n),
    metrics: (previous) => orgsMetricsText(orgs, finished, previous, build),
  })
  return { exitCode: exitCode === EXIT_CODES.OK ? outputCode : exitCode, written: results.reduce((w, r) => w + r.summary.sources.reduce((x, s) => x + s.written, 0), 0), closed: false }
}

/**
 * The command's cycles: one, or one every --interval with --watch (waiting on `Io.timer` when given). One limiter per
 * host for the whole command: what a cycle learnt of a host's rate (its 429s) paces the next from its first request,
 * instead of every cycle meeting the limit again.
 */
function cycles(plan: Plan, log: Logger, io: Io, progress: Progress): Promise<number> {
  const cfg = plan.process
  const limiters = Limiters.capped(cfg.maxRps, io.timer)
  const one = (n: number): Promise<Cycle> => (plan.file === undefined ? cycle(cfg, log, io, progress, n, limiters) : orgsCycle(plan, log, io, progress, n, limiters))
  return runCycles({ watch: cfg.watch, intervalMs: cfg.intervalMs, log, now: io.now, signal: io.signal, interrupted: () => io.interrupted(), cycle: one, wait: io.timer?.sleep })
}

/**
 * The logger of a command's run: --log-level (warn with --quiet), pretty on a terminal, colour unless TERM=dumb or
 * NO_COLOR, syslog priorities for the journal, the rotating debug log file, every organisation's token scrubbed.
 */
export function commandLogger(plan: Plan, io: Io, stderr: NodeJS.WritableStream): ReturnType<typeof createLogger> {
  const cfg = plan.process
  const file = cfg.logFile === undefined ? undefined : { path: cfg.logFile, maxBytes: 1024 * 1024, keep: 5 }
  const color = io.env.TERM !== 'dumb' && (io.env.NO_COLOR ?? '') === ''
  return createLogger({ level: cfg.quiet ? 'warn' : cfg.logLevel, pretty: io.tty, color, journal: !io.tty && io.journal === true, stderr, file, secrets: plan.orgs.map((o) => o.config.token) })
}

/** Runs the fetch job; returns the exit code. */
export async function fetchCommand(argv: string[], io: Io, version: string): Promise<number> {
  let plan: Plan
  try {
    plan = loadPlan({ argv, env: io.env, cwd: io.cwd, now: io.now })
  } catch (err) {
    io.stderr.write(`y360-audit: ${(err as Error).message}\n`)
    return exitCodeOf(err)
  }
  const cfg = plan.process
  if (cfg.help || cfg.version) {
    io.stdout.write((cfg.help ? helpText(version) : version) + '\n')
    return EXIT_CODES.OK
  }
  // The directories of the other files the run writes, created (0750) before the first request: a missing one must
  // not fail the run after records were written. (The configuration already judged them creatable.)
  const stateFiles = plan.orgs.map((o) => ['state-file', o.config.stateFile] as const)
  for (const [flag, file] of [...stateFiles, ['summary-json', cfg.summaryJson], ['metrics-file', cfg.metricsFile], ['log-file', cfg.logFile]] as const) {
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
    logging = await commandLogger(plan, io, progress.logStream)
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
    const heapLimitMiB = Math.round(getHeapStatistics().heap_size_limit / 1048576)
    const factors = io.heapFactors === true ? 'set by the CLI' : "node's or yours"
    log.debug({ heapLimitMiB, heapFactors: io.heapFactors === true }, `heap limit ${heapLimitMiB} MiB, growth factors ${factors}`)
    for (const w of plan.warnings) log.warn(w)
    return await cycles(plan, log, io, progress)
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
