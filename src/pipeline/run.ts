/**
 * run: one pipeline per source, sources side by side; the only pipeline() call of the tool.
 *
 *   WindowedSource ──▶ Dedupe ──▶ PartitionByDate ──▶ the Output's sink
 *   (API pages,         (seeded     (day of the         archive: RotatingFileSink (append + fsync per window)
 *    ascending batches)  from the    record's instant)            or MergingFileSink (--since into day files)
 *                        output's                         stream:  StdoutSink (cursor saved once stdout accepted it)
 *                        start point)                     syslog:  SyslogSink (cursor saved once the receiver acknowledged it)
 *   Beside the archive, --syslog forwards from the day files once every source ended (ForwardingOutput.commit).
 *   The archive output seals closed days at commit, locks held, after the re-check hook (recheckBeforeSeal).
 */
import { setMaxListeners } from 'node:events'
import { Readable, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Dispatcher } from 'undici'
import type { Config, SourceConfig } from '../config.js'
import { Y360Error, EXIT_CODES, exitCodeOf } from '../errors.js'
import type { Logger } from '../log.js'
import { SourceStats, type WindowBatch } from '../messages.js'
import { ApiClient } from '../sources/client.js'
import { ENDPOINTS } from '../sources/index.js'
import { Limiters, type Timer } from '../sources/limiter.js'
import { probeRepeatedKeys } from '../sources/probe.js'
import { windowedSource } from '../sources/windowed.js'
import { show, showDuration, type Micros } from '../time.js'
import { Dedupe } from './dedupe.js'
import { summarize, type Outcome, type RunSummary, type SourceSummary } from './outcome.js'
import type { Output, OutputMode, Refetch, SourceTarget } from './output.js'
import { PartitionByDate } from './partition.js'
import { recheckDays, type RecheckDeps } from './recheck.js'
import type { BeforeSeal } from './seal.js'
import { scrubber } from '../secrets.js'

export type { RunSummary, SourceSummary } from './outcome.js'

/** One source's progress, reported after each window reaches the sink (the progress display draws it). */
export interface ProgressUpdate {
  from: Micros
  to: Micros
  covered: Micros
  written: number
  fetched: number
  retries: number
}

export interface RunContext {
  cfg: Config
  log: Logger
  now: () => number
  signal: AbortSignal
  dispatcher?: Dispatcher
  /** The clock retries, pauses and the rate limiter wait on (default the real one). */
  timer?: Timer
  /** Called after each window reaches the sink (progress display). */
  onProgress?: (source: string, p: ProgressUpdate) => void
  /** Where --stdout writes (default process.stdout). */
  stdout?: NodeJS.WritableStream
  /**
   * The per-host request pacing; runs of several organisations (--config) share one, so a host's limit and --max-rps
   * hold for all of them together. Default: this run's own.
   */
  limiters?: Limiters
  /** The tool and its version, written into each seal entry (`y360-audit 1.2.3`). */
  tool?: string
  /** Builds the output instead of the one the configuration implies (reconcile), given the re-check before sealing. */
  output?: (beforeSeal: BeforeSeal | undefined) => Output
}

const PAGE_SIZE = 100

/** Records a window should hold on average: 80% of what a window may take before it is cut. */
function targetRecords(cfg: Config, pageSize: number): number {
  // Each window ends on a part-full page: wide windows waste less. A window the page budget cuts keeps its pages, so
  // aiming near the budget costs little when the density estimate is off.
  return Math.max(pageSize, Math.floor(cfg.maxPages * pageSize * 0.8))
}

/** What every source of a run shares: the client, the per-host limiters, the output. */
interface Shared {
  client: ApiClient
  limiters: Limiters
  output: Output
}

/**
 * The range a source fetches: --since/--until, or from its start point minus the overlap (or the lookback) to now.
 * An --until in the future is clamped to now: nothing can be archived beyond it, and a range ending later would leave
 * the archive's end (the next run's start) unknowable.
 */
function planRange(ctx: RunContext, target: SourceTarget): { from: Micros; to: Micros } {
  const { cfg } = ctx
  const nowUs = ctx.now() * 1000
  const from = cfg.since ?? (target.resume !== undefined ? target.resume - cfg.overlapMs * 1000 : nowUs - cfg.lookbackMs * 1000)
  return { from, to: Math.min(cfg.until ?? nowUs, nowUs) }
}

function logStart(ctx: RunContext, src: SourceConfig, target: SourceTarget, range: { from: Micros; to: Micros }, mode: string): void {
  const { cfg, log } = ctx
  const { from, to } = range
  const msg = cfg.since !== undefined
    ? `${src.name}: ${mode === 'backfill' ? 'backfill' : 'range'} ${show(from)} .. ${show(to)} (until exclusive)`
    : target.resume === undefined
      ? `${src.name}: nothing delivered yet (${target.where}), fetching from ${show(from)}`
      : `${src.name}: resuming after ${show(target.resume)} (overlap ${showDuration(cfg.overlapMs)}, ${target.where})`
  log.info({ source: src.name, from: show(from), to: show(to), resume: target.resume === undefined ? null : show(target.resume), mode }, msg)
}

/** Fetches one source into its output's sink, filling `outcome` and `stats` as it goes (also when it fails). */
async function runSource(ctx: RunContext, src: SourceConfig, shared: Shared, stats: SourceStats, outcome: Outcome, runSignal: AbortSignal): Promise<void> {
  const { cfg, log } = ctx
  const target = await shared.output.source(src, stats)
  outcome.resume = target.resume
  const range = planRange(ctx, target)
  outcome.range = range
  const { sink, mode } = target.sink(range)
  outcome.mode = mode
  logStart(ctx, src, target, range, mode)
  if (cfg.until !== undefined && cfg.until > range.to) log.warn({ source: src.name, until: show(cfg.until), to: show(range.to) }, `${src.name}: --until ${show(cfg.until)} is in the future; fetching up to now (${show(range.to)})`)
  if (range.from >= range.to) return
  // An explicit range (--since) is not resumed: a file backfill merges against the day files themselves
  // (MergingFileSink), a stdout replay delivers the whole range. Dedupe then only drops repeats within the run, and the
  // seed is not read (for a backfill it would hold every archived key from --since on).
  const start = cfg.since !== undefined ? undefined : { seed: target.seed(range.from), resume: target.resume }
  await pump(ctx, src, shared, stats, range, sink, runSignal, start, true)
}

/**
 * The one pipeline of the tool: [from, to) of one source from the API into `sink`. `start` (an incremental run) seeds
 * Dedupe with what the output already holds; without it (a range asked explicitly, the re-check) Dedupe drops only
 * repeats within the run. `probe`: the run's fetch of the source (once per run), not a re-check of a day, asks first
 * whether the API reads every repeated filter key.
 */
async function pump(ctx: RunContext, src: SourceConfig, shared: Pick<Shared, 'client' | 'limiters'>, stats: SourceStats, range: { from: Micros; to: Micros }, sink: Writable, runSignal: AbortSignal, start?: { seed: Promise<Map<string, Micros>> | Map<string, Micros>; resume: Micros | undefined }, probe = false): Promise<void> {
  const { cfg, log } = ctx
  const ep = ENDPOINTS[src.name]
  const baseUrl = ep.host === 'cloud' ? cfg.cloudApiUrl : cfg.apiUrl
  // Ends this source's prefetched windows when its pipeline ends for any reason (a sink error, too), not only on a signal.
  const done = new AbortController()
  const signal = AbortSignal.any([runSignal, done.signal])
  setMaxListeners(0, signal)
  const batches = windowedSource({
    ep, client: shared.client, limiter: shared.limiters.for(baseUrl), baseUrl, org: cfg.org, filters: cfg.filters, ...range,
    pageSize: PAGE_SIZE, maxPages: cfg.maxPages, concurrency: cfg.concurrency, targetRecords: targetRecords(cfg, PAGE_SIZE), log, signal, stats,
    now: ctx.now, maxSkewUs: cfg.maxSkewMs * 1000,
  })
  const progressed = async function* (): AsyncGenerator<WindowBatch> {
    // Before the first window: an API that reads only the first of repeated filter keys would narrow it silently.
    if (probe) await probeRepeatedKeys({ ep, client: shared.client, limiter: shared.limiters.for(baseUrl), baseUrl, org: cfg.org, filters: cfg.filters, ...range, pageSize: PAGE_SIZE, stats, signal })
    for await (const b of batches) {
      yield b
      // The previous window has reached the sink once the next one is pulled (highWaterMark 1 all along).
      ctx.onProgress?.(src.name, { ...range, covered: b.hi, written: stats.written, fetched: stats.fetched, retries: stats.retries })
    }
  }
  const seed = start?.seed ?? new Map<string, Micros>() // read while the first pages are fetched
  if (!(seed instanceof Map)) seed.catch(() => undefined) // awaited (and reported) by Dedupe
  const dedupe = new Dedupe({ seed, overlapUs: cfg.overlapMs * 1000, resume: start?.resume, stats })
  const partition = new PartitionByDate({ zone: cfg.timezone, lineFormat: cfg.lineFormat, decorate: cfg.tagSource ? (d) => ({ ...d, _source: src.name }) : undefined })
  try {
    await pipeline(Readable.from(progressed(), { objectMode: true, highWaterMark: 1 }), dedupe, partition, sink, { signal })
  } finally {
    done.abort(new Y360Error('INTERRUPTED', `${src.name}: the pipeline ended`, { source: src.name }))
    // pipeline() settles on another stage's error without waiting for the sink's destroy, while the sink may still be
    // ending a write it had begun: wait for its close, so nothing is written after the run (and its lock) ended and the
    // summary counts what reached the output.
    await closed(sink)
  }
}

/**
 * The re-check before sealing (src/pipeline/recheck.ts): the hook the archive output calls just before days are first
 * sealed, asking the API for those days again with this run's client, limiters and stop signal, and merging what the
 * archive lacks. Undefined with --no-recheck: days are sealed as they are.
 */
function recheckBeforeSeal(ctx: RunContext, client: ApiClient, limiters: Limiters): BeforeSeal | undefined {
  const { cfg } = ctx
  if (cfg.noRecheck) return undefined
  const quiet: RunContext = { ...ctx, onProgress: undefined } // the progress lines have ended by then
  const refetch: Refetch = (src, range, sink, stats) => pump(quiet, src, { client, limiters }, stats, range, sink, ctx.signal)
  const deps: RecheckDeps = { refetch, zone: cfg.timezone, overlapMs: cfg.overlapMs, scrub: scrubber([cfg.token]), now: ctx.now }
  return (req) => recheckDays(deps, req)
}

/** Resolves once `w` has emitted 'close' (at once when it has). */
function closed(w: Writable): Promise<void> {
  return w.closed ? Promise.resolve() : new Promise((resolve) => w.once('close', () => resolve()))
}

/**
 * The output of this run's mode (--syslog: alone without archive directories, else forwarding beside the archive).
 * Each mode's modules are loaded when it is chosen: an archive run does not load the syslog and stdout outputs and
 * their sinks (~7 ms of its start, before the first request), a stdout run not the archive's.
 */
async function outputFor(ctx: RunContext, client: ApiClient, limiters: Limiters): Promise<Output> {
  const { cfg } = ctx
  if (ctx.output !== undefined) return ctx.output(recheckBeforeSeal(ctx, client, limiters))
  if (cfg.stdout) return new (await import('./outputs/stream.js')).StreamOutput(cfg, ctx.log, ctx.now, ctx.stdout ?? process.stdout)
  if (syslogAlone(cfg)) return new (await import('./outputs/syslog.js')).SyslogOutput(cfg, ctx.log, ctx.now, ctx.signal)
  const archive = new (await import('./outputs/archive.js')).ArchiveOutput(cfg, ctx.log, ctx.now, { beforeSeal: recheckBeforeSeal(ctx, client, limiters), tool: ctx.tool })
  return cfg.syslog !== undefined ? new (await import('./outputs/forward.js')).ForwardingOutput(cfg, ctx.log, ctx.now, ctx.signal, archive) : archive
}

/** --syslog without archive directories: the syslog receiver is the output (else it is forwarded to beside the archive). */
const syslogAlone = (cfg: Config): boolean => cfg.syslog !== undefined && cfg.sources.every((s) => s.dir === '')

/** The mode of the output a fetch run with `cfg` writes to (what `outputFor` builds), also for a run that never started. */
export function outputMode(cfg: Config): OutputMode {
  if (cfg.stdout) return 'stdout'
  if (syslogAlone(cfg)) return 'syslog'
  return cfg.since !== undefined ? 'backfill' : 'append'
}

/** Runs one source to its outcome; never throws (a failure is the outcome's code). */
async function settle(ctx: RunContext, src: SourceConfig, shared: Shared, stats: SourceStats, quiet: AbortController, signal: AbortSignal): Promise<Outcome> {
  const outcome: Outcome = { source: src.name, mode: shared.output.mode, ok: false, exit: EXIT_CODES.OK, durationMs: 0 }
  const started = ctx.now()
  try {
    await runSource(ctx, src, shared, stats, outcome, signal)
    outcome.ok = true
  } catch (err) {
    if (shared.output.quietEnd(err) || (quiet.signal.aborted && !ctx.signal.aborted)) {
      // `| head`: the reader has what it wanted; a quiet, successful end for every source.
      quiet.abort()
      outcome.ok = true
      outcome.code = 'OUTPUT_CLOSED'
      ctx.log.info({ source: src.name }, `${src.name}: stdout was closed by the reader; stopping`)
    } else {
      const e = ctx.signal.aborted && !(err instanceof Y360Error) ? new Y360Error('INTERRUPTED', `${src.name}: stopped by a signal`, { source: src.name }, { cause: err }) : err
      outcome.error = e instanceof Error ? e.message : String(e)
      outcome.code = e instanceof Y360Error ? e.code : 'INTERNAL'
      outcome.exit = exitCodeOf(e)
      ctx.log.error({ source: src.name, code: outcome.code, err: e instanceof Y360Error ? undefined : e }, outcome.error)
    }
  }
  outcome.durationMs = ctx.now() - started
  return outcome
}

/** Warns once per source that saw anomalies, naming each kind and count; true when any source saw one. */
function reportAnomalies(log: Logger, sources: readonly SourceSummary[]): boolean {
  let any = false
  for (const s of sources) {
    if (s.anomalies === undefined) continue
    any = true
    const list = Object.entries(s.anomalies).map(([k, n]) => `${k} ${n}`).join(', ')
    log.warn({ source: s.source, anomalies: s.anomalies }, `${s.source}: the API or the archive broke the tool's assumptions: ${list} (README "What is checked on every page"; exit ${EXIT_CODES.ANOMALY})`)
  }
  return any
}

/** Runs every configured source; one failing source does not stop the others. */
export async function run(ctx: RunContext): Promise<RunSummary> {
  const { cfg, log } = ctx
  setMaxListeners(0, ctx.signal) // every in-flight request listens for the stop
  const stats = new Map(cfg.sources.map((s) => [s.name, new SourceStats()]))
  // An output that ends quietly (a reader that left stdout) stops every source at once (their fetches are aborted).
  const quiet = new AbortController()
  const signal = AbortSignal.any([ctx.signal, quiet.signal])
  setMaxListeners(0, signal)
  const client = new ApiClient({
    token: cfg.token, retries: cfg.retries, retryBaseMs: cfg.retryDelayMs, retryMaxMs: Math.max(cfg.retryDelayMs, 30_000), maxWaitMs: cfg.maxWaitMs,
    // The api360 host serves two sources, each with --concurrency requests in flight: twice that many connections.
    connections: 4 * cfg.concurrency,
    timeoutMs: cfg.timeoutMs, connectTimeoutMs: Math.min(cfg.timeoutMs, 10_000), deadlineMs: cfg.requestDeadlineMs, maxBodyBytes: cfg.maxBodyBytes, dispatcher: ctx.dispatcher, log,
    onRetry: (s) => (stats.get(s as SourceConfig['name']) as SourceStats).retries++, now: ctx.timer?.now, sleep: ctx.timer?.sleep, tokenFrom: cfg.tokenFrom,
  })
  const limiters = ctx.limiters ?? Limiters.capped(cfg.maxRps, ctx.timer)
  const output = await outputFor(ctx, client, limiters)
  const shared: Shared = { client, limiters, output }
  try {
    await output.open()
    const outcomes = await Promise.all(cfg.sources.map((src) => settle(ctx, src, shared, stats.get(src.name) as SourceStats, quiet, signal)))
    let exitCode: number = outcomes.find((o) => o.exit !== EXIT_CODES.OK)?.exit ?? EXIT_CODES.OK
    try {
      await output.commit(!quiet.signal.aborted && !ctx.signal.aborted && outcomes.every((o) => o.code !== 'INTERRUPTED'), outcomes)
    } catch (err) {
      log.error({ code: (err as Y360Error).code }, (err as Error).message)
      if (exitCode === EXIT_CODES.OK) exitCode = exitCodeOf(err)
    }
    const sources = outcomes.map((o) => summarize(stats.get(o.source as SourceConfig['name']) as SourceStats, o))
    // A completed run that saw anomalies exits with its own code, so cron, systemd and Kubernetes alert on it.
    if (exitCode === EXIT_CODES.OK && reportAnomalies(log, sources)) exitCode = EXIT_CODES.ANOMALY
    return { ok: exitCode === EXIT_CODES.OK, exitCode, sources }
  } finally {
    output.close()
    await client.close()
  }
}
