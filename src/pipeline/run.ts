/**
 * run: one pipeline per source, sources side by side; the only pipeline() call of the tool.
 *
 *   WindowedSource ──▶ Dedupe ──▶ PartitionByDate ──▶ RotatingFileSink | MergingFileSink | StdoutSink
 *   (API pages,         (seeded     (day of the         (append + fsync per window; --since: merge into
 *    ascending batches)  from tail   record's instant)    existing day files via temp + rename; --stdout:
 *                        or cursor)                       NDJSON, cursor saved after stdout accepted it)
 */
import { setMaxListeners } from 'node:events'
import { access } from 'node:fs/promises'
import { dirname } from 'node:path'
import { Readable, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Dispatcher } from 'undici'
import type { Config, SourceConfig } from '../config.js'
import { Y360Error, EXIT_CODES, exitCodeOf } from '../errors.js'
import type { Logger } from '../log.js'
import { ApiClient } from '../sources/client.js'
import { ENDPOINTS } from '../sources/index.js'
import { Limiters } from '../sources/limiter.js'
import { windowedSource, type WindowBatch } from '../sources/windowed.js'
import { show, showDuration } from '../time.js'
import { loadCursor, saveCursor, DeliveryTracker, type Cursor } from '../sinks/cursor.js'
import { RotatingFileSink, type SinkStats } from '../sinks/file.js'
import { StdoutSink, isOutputClosed } from '../sinks/stdout.js'
import type { ProgressUpdate } from '../progress.js'
import { MergingFileSink } from './backfill.js'
import { loadCheckpoint, type Checkpoint } from './checkpoint.js'
import { Dedupe } from './dedupe.js'
import { DirLock } from './lock.js'
import { PartitionByDate } from './partition.js'

/** What one source did in one run (printed at the end, and written by --summary-json). */
export interface SourceSummary {
  source: string
  ok: boolean
  error?: string
  code?: string
  from?: string
  to?: string
  pages: number
  fetched: number
  written: number
  duplicates: number
  late: number
  rejected: number
  retries: number
  files: string[]
  first?: string
  last?: string
  /** Newest record in the archive (or delivered to stdout) after the run: the lag of the metrics file. */
  newest?: string
  /** append (incremental), backfill (--since: merged into day files) or stdout. */
  mode: 'append' | 'backfill' | 'stdout'
  repaired: number
  durationMs: number
}

export interface RunSummary {
  ok: boolean
  exitCode: number
  sources: SourceSummary[]
}

export interface RunContext {
  cfg: Config
  log: Logger
  now: () => number
  signal: AbortSignal
  dispatcher?: Dispatcher
  /** Called after each window reaches the sink (progress display). */
  onProgress?: (source: string, p: ProgressUpdate) => void
  /** Where --stdout writes (default process.stdout). */
  stdout?: NodeJS.WritableStream
}

/** Records a window should hold on average: half of what a window may take before it is split. */
function targetRecords(cfg: Config, pageSize: number): number {
  return Math.max(pageSize, Math.floor((cfg.maxPages * pageSize) / 2))
}

const PAGE_SIZE = 100

function emptySummary(source: string, mode: SourceSummary['mode']): SourceSummary {
  return { source, ok: false, mode, pages: 0, fetched: 0, written: 0, duplicates: 0, late: 0, rejected: 0, retries: 0, files: [], repaired: 0, durationMs: 0 }
}

/** Shared by the sources of one run: the stdout cursor and the trackers that fill it. */
interface RunShared {
  cursor: Cursor | undefined
  trackers: Map<string, DeliveryTracker>
  retries: Map<string, number>
}

/** Where the run starts: the archive tail (file mode) or the --state-file cursor (stdout mode). */
async function startPoint(ctx: RunContext, src: SourceConfig, shared: RunShared, summary: SourceSummary): Promise<Checkpoint> {
  const { cfg, log } = ctx
  const ep = ENDPOINTS[src.name]
  const overlapUs = cfg.overlapMs * 1000
  if (cfg.stdout) {
    const c = shared.cursor?.get(src.name)
    return { resume: c?.resumeUs, repaired: [], seed: () => Promise.resolve({ keys: new Map(c?.keys), corrupt: 0 }) }
  }
  const cp = await loadCheckpoint({ archive: { dir: src.dir, base: src.base, ext: cfg.ext }, ep, overlapUs, log })
  summary.repaired = cp.repaired.length
  return cp
}

/** Fetches one source into its sink, filling `summary` as it goes (also when it fails). */
async function runSource(ctx: RunContext, src: SourceConfig, client: ApiClient, limiters: Limiters, shared: RunShared, summary: SourceSummary, runSignal: AbortSignal): Promise<void> {
  const { cfg, log } = ctx
  const ep = ENDPOINTS[src.name]
  const overlapUs = cfg.overlapMs * 1000
  const archive = { dir: src.dir, base: src.base, ext: cfg.ext }
  const cp = await startPoint(ctx, src, shared, summary)
  if (cp.resume !== undefined) summary.newest = show(cp.resume)
  const nowUs = ctx.now() * 1000
  const to = cfg.until ?? nowUs
  const from = cfg.since ?? (cp.resume !== undefined ? cp.resume - overlapUs : nowUs - cfg.lookbackMs * 1000)
  summary.from = show(from)
  summary.to = show(to)
  const where = cfg.stdout ? (cfg.stateFile === undefined ? 'no state file' : `state file ${cfg.stateFile}`) : 'archive'
  if (summary.mode === 'backfill' && cp.resume !== undefined && from > cp.resume + overlapUs) {
    log.warn({ source: src.name }, `${src.name}: --since ${show(from)} is after the archive's newest record ${show(cp.resume)}: records between them are not fetched now, and later runs resume after the newest archived record, so they stay missing; run a backfill --since ${show(cp.resume)} to close the gap`)
  }
  // A range wholly after the archive (or into an empty one) appends like any run: nothing to merge with.
  if (summary.mode === 'backfill' && (cp.resume === undefined || from > cp.resume)) summary.mode = 'append'
  log.info({ source: src.name, from: show(from), to: show(to), resume: cp.resume === undefined ? null : show(cp.resume), mode: summary.mode }, cfg.since !== undefined ? `${src.name}: ${summary.mode === 'backfill' ? 'backfill' : 'range'} ${show(from)} .. ${show(to)} (until exclusive)` : cp.resume === undefined ? `${src.name}: nothing delivered yet (${where}), fetching from ${show(from)}` : `${src.name}: resuming after ${show(cp.resume)} (overlap ${showDuration(cfg.overlapMs)}, ${where})`)
  const tracker = cfg.stdout ? new DeliveryTracker(shared.cursor?.get(src.name), overlapUs) : undefined
  if (tracker !== undefined) shared.trackers.set(src.name, tracker)
  if (from >= to) {
    summary.ok = true
    return
  }
  const baseUrl = ep.host === 'cloud' ? cfg.cloudApiUrl : cfg.apiUrl
  // Ends this source's prefetched windows when its pipeline ends for any reason (a sink error, too), not only on a signal.
  const done = new AbortController()
  const signal = AbortSignal.any([runSignal, done.signal])
  setMaxListeners(0, signal)
  const batches = windowedSource({
    ep, client, limiter: limiters.for(baseUrl), baseUrl, org: cfg.org, filters: cfg.filters, from, to,
    pageSize: PAGE_SIZE, maxPages: cfg.maxPages, concurrency: cfg.concurrency, targetRecords: targetRecords(cfg, PAGE_SIZE), log, signal,
  })
  let sink: Writable & { stats: SinkStats }
  let merging: MergingFileSink | undefined
  if (tracker !== undefined) sink = new StdoutSink(ctx.stdout ?? process.stdout, tracker, src.name)
  else if (summary.mode === 'backfill') sink = merging = new MergingFileSink(archive, ep, overlapUs, log)
  else sink = new RotatingFileSink(archive, src.name)
  const counted = async function* (): AsyncGenerator<WindowBatch> {
    for await (const b of batches) {
      summary.pages += b.pages
      summary.fetched += b.received
      summary.duplicates += b.repeats
      yield b
      // The previous window has reached the sink once the next one is pulled (highWaterMark 1 all along).
      ctx.onProgress?.(src.name, { from, to, covered: b.hi, written: sink.stats.written, fetched: summary.fetched, retries: shared.retries.get(src.name) ?? 0 })
    }
  }
  // An explicit range (--since) is not resumed: a file backfill merges against the day files themselves
  // (MergingFileSink), a stdout replay delivers the whole range. Dedupe then only drops repeats within the run, and the
  // seed is not read (for a backfill it would hold every archived key from --since on).
  const ranged = cfg.since !== undefined
  const seed = ranged ? new Map<string, number>() : cp.seed(from) // read while the first pages are fetched
  if (!(seed instanceof Map)) seed.catch(() => undefined) // awaited (and reported) by Dedupe
  const dedupe = new Dedupe({ seed, overlapUs, resume: ranged ? undefined : cp.resume })
  const partition = new PartitionByDate({ zone: cfg.timezone, lineFormat: cfg.lineFormat, decorate: cfg.stdout && cfg.tagSource ? (d) => ({ ...d, _source: src.name }) : undefined })
  try {
    await pipeline(Readable.from(counted(), { objectMode: true, highWaterMark: 1 }), dedupe, partition, sink, { signal })
    summary.ok = true
  } finally {
    done.abort(new Y360Error('INTERRUPTED', `${src.name}: the pipeline ended`, { source: src.name }))
    summary.duplicates += dedupe.dropped + (merging?.merge.duplicates ?? 0)
    summary.late = dedupe.late
    summary.written = sink.stats.written
    summary.rejected = sink.stats.rejected
    summary.files = [...sink.stats.files]
    if (sink.stats.first !== undefined) summary.first = show(sink.stats.first)
    if (sink.stats.last !== undefined) {
      summary.last = show(sink.stats.last)
      if (cp.resume === undefined || sink.stats.last > cp.resume) summary.newest = summary.last
    }
  }
}

/** Saves the --state-file cursor: only when every record written to stdout was accepted and the reader is still there. */
async function commitCursor(ctx: RunContext, shared: RunShared, results: SourceSummary[]): Promise<void> {
  const { cfg, log } = ctx
  if (!cfg.stdout || cfg.stateFile === undefined || shared.cursor === undefined) return
  if (results.some((r) => r.code === 'OUTPUT_CLOSED' || r.code === 'INTERRUPTED') || ctx.signal.aborted) {
    // What sat in the pipe may never have been read: keep the old position (the next run delivers it again).
    log.info(`state file ${cfg.stateFile} left at its previous position (output closed or interrupted)`)
    return
  }
  let changed = false
  for (const [name, t] of shared.trackers) {
    const snap = t.snapshot()
    if (snap !== undefined && t.count > 0) {
      shared.cursor.set(name, snap)
      changed = true
    }
  }
  if (changed || !(await fileExists(cfg.stateFile))) await saveCursor(cfg.stateFile, shared.cursor, ctx.now())
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

/** Runs every configured source; one failing source does not stop the others. */
export async function run(ctx: RunContext): Promise<RunSummary> {
  const { cfg, log } = ctx
  setMaxListeners(0, ctx.signal) // every in-flight request listens for the stop
  const retries = new Map<string, number>()
  // A reader that left stdout stops every source at once (their fetches are aborted).
  const outputGone = new AbortController()
  const signal = AbortSignal.any([ctx.signal, outputGone.signal])
  setMaxListeners(0, signal)
  const shared: RunShared = { cursor: undefined, trackers: new Map(), retries }
  const client = new ApiClient({
    token: cfg.token, retries: cfg.retries, retryBaseMs: cfg.retryDelayMs, retryMaxMs: Math.max(cfg.retryDelayMs, 30_000), maxWaitMs: cfg.maxWaitMs,
    timeoutMs: cfg.timeoutMs, connectTimeoutMs: Math.min(cfg.timeoutMs, 10_000), dispatcher: ctx.dispatcher, log,
    onRetry: (s) => retries.set(s, (retries.get(s) ?? 0) + 1),
  })
  const limiters = new Limiters({ maxRps: cfg.maxRps })
  const locks: DirLock[] = []
  try {
    // stdout mode locks the state file's directory (two runs sharing a cursor would deliver twice); file mode each archive.
    const lockDirs = cfg.stdout ? (cfg.stateFile === undefined ? [] : [dirname(cfg.stateFile)]) : cfg.sources.map((s) => s.dir)
    for (const dir of new Set(lockDirs)) locks.push(DirLock.acquire(dir, log, ctx.now))
    if (cfg.stdout && cfg.stateFile !== undefined) shared.cursor = await loadCursor(cfg.stateFile)
    const mode: SourceSummary['mode'] = cfg.stdout ? 'stdout' : cfg.since !== undefined ? 'backfill' : 'append'
    let exitCode: number = EXIT_CODES.OK
    const results = await Promise.all(
      cfg.sources.map(async (src) => {
        const summary = emptySummary(src.name, mode)
        const started = ctx.now()
        try {
          await runSource(ctx, src, client, limiters, shared, summary, signal)
        } catch (err) {
          if (isOutputClosed(err) || (outputGone.signal.aborted && !ctx.signal.aborted)) {
            // `| head`: the reader has what it wanted; a quiet, successful end.
            outputGone.abort()
            summary.ok = true
            summary.code = 'OUTPUT_CLOSED'
            log.info({ source: src.name }, `${src.name}: stdout was closed by the reader; stopping`)
            summary.retries = retries.get(src.name) ?? 0
            summary.durationMs = ctx.now() - started
            return summary
          }
          const e = ctx.signal.aborted && !(err instanceof Y360Error) ? new Y360Error('INTERRUPTED', `${src.name}: stopped by a signal`, { source: src.name }, { cause: err }) : err
          summary.error = e instanceof Error ? e.message : String(e)
          summary.code = e instanceof Y360Error ? e.code : 'INTERNAL'
          log.error({ source: src.name, code: summary.code, err: e instanceof Y360Error ? undefined : e }, summary.error)
          if (exitCode === EXIT_CODES.OK) exitCode = exitCodeOf(e)
        }
        summary.retries = retries.get(src.name) ?? 0
        summary.durationMs = ctx.now() - started
        return summary
      }),
    )
    try {
      await commitCursor(ctx, shared, results)
    } catch (err) {
      log.error({ code: (err as Y360Error).code }, (err as Error).message)
      if (exitCode === EXIT_CODES.OK) exitCode = exitCodeOf(err)
    }
    return { ok: exitCode === EXIT_CODES.OK, exitCode, sources: results }
  } finally {
    for (const l of locks) l.release()
    await client.close()
  }
}
