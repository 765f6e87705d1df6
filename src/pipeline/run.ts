/**
 * run: one pipeline per source, sources side by side; the only pipeline() call of the tool.
 *
 *   WindowedSource ──▶ Dedupe ──▶ PartitionByDate ──▶ RotatingFileSink | StdoutSink
 *   (API pages,         (seeded     (day of the         (append + fsync per window,
 *    ascending batches)  from tail)  record's instant)    or NDJSON + cursor)
 */
import { setMaxListeners } from 'node:events'
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
import { show, showDuration, type Micros } from '../time.js'
import { RotatingFileSink } from '../sinks/file.js'
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
  onProgress?: (source: string, p: { covered: Micros; from: Micros; to: Micros; written: number }) => void
}

/** Records a window should hold on average: half of what a window may take before it is split. */
function targetRecords(cfg: Config, pageSize: number): number {
  return Math.max(pageSize, Math.floor((cfg.maxPages * pageSize) / 2))
}

const PAGE_SIZE = 100

function emptySummary(source: string): SourceSummary {
  return { source, ok: false, pages: 0, fetched: 0, written: 0, duplicates: 0, late: 0, rejected: 0, retries: 0, files: [], repaired: 0, durationMs: 0 }
}

/** Fetches one source into its sink, filling `summary` as it goes (also when it fails). */
async function runSource(ctx: RunContext, src: SourceConfig, client: ApiClient, limiters: Limiters, summary: SourceSummary): Promise<void> {
  const { cfg, log } = ctx
  const ep = ENDPOINTS[src.name]
  const overlapUs = cfg.overlapMs * 1000
  const archive = { dir: src.dir, base: src.base, ext: cfg.ext }
  const cp: Checkpoint = await loadCheckpoint({ archive, ep, overlapUs, log })
  summary.repaired = cp.repaired.length
  const nowUs = ctx.now() * 1000
  const to = cfg.until ?? nowUs
  const from = cfg.since ?? (cp.resume !== undefined ? cp.resume - overlapUs : nowUs - cfg.lookbackMs * 1000)
  summary.from = show(from)
  summary.to = show(to)
  log.info({ source: src.name, from: show(from), to: show(to), resume: cp.resume === undefined ? null : show(cp.resume) }, cp.resume === undefined ? `${src.name}: empty archive, fetching from ${show(from)}` : `${src.name}: resuming after ${show(cp.resume)} (overlap ${showDuration(cfg.overlapMs)})`)
  if (from >= to) {
    summary.ok = true
    return
  }
  const baseUrl = ep.host === 'cloud' ? cfg.cloudApiUrl : cfg.apiUrl
  // Ends this source's prefetched windows when its pipeline ends for any reason (a sink error, too), not only on a signal.
  const done = new AbortController()
  const signal = AbortSignal.any([ctx.signal, done.signal])
  setMaxListeners(0, signal)
  const batches = windowedSource({
    ep, client, limiter: limiters.for(baseUrl), baseUrl, org: cfg.org, filters: cfg.filters, from, to,
    pageSize: PAGE_SIZE, maxPages: cfg.maxPages, concurrency: cfg.concurrency, targetRecords: targetRecords(cfg, PAGE_SIZE), log, signal,
  })
  const counted = async function* (): AsyncGenerator<WindowBatch> {
    for await (const b of batches) {
      summary.pages += b.pages
      summary.fetched += b.received
      summary.duplicates += b.repeats
      yield b
    }
  }
  const seed = cp.seed(from) // read while the first pages are fetched
  seed.catch(() => undefined) // awaited (and reported) by Dedupe
  const dedupe = new Dedupe({ seed, overlapUs, resume: cp.resume })
  const partition = new PartitionByDate({ zone: cfg.timezone, lineFormat: cfg.lineFormat })
  const sink = new RotatingFileSink(archive, src.name)
  try {
    await pipeline(Readable.from(counted(), { objectMode: true, highWaterMark: 1 }), dedupe, partition, sink as Writable, { signal: ctx.signal })
    summary.ok = true
  } finally {
    done.abort(new Y360Error('INTERRUPTED', `${src.name}: the pipeline ended`, { source: src.name }))
    summary.duplicates += dedupe.dropped
    summary.late = dedupe.late
    summary.written = sink.stats.written
    summary.rejected = sink.stats.rejected
    summary.files = [...sink.stats.files]
    if (sink.stats.first !== undefined) summary.first = show(sink.stats.first)
    if (sink.stats.last !== undefined) summary.last = show(sink.stats.last)
  }
}

/** Runs every configured source; one failing source does not stop the others. */
export async function run(ctx: RunContext): Promise<RunSummary> {
  const { cfg, log } = ctx
  setMaxListeners(0, ctx.signal) // every in-flight request listens for the stop
  const retries = new Map<string, number>()
  const client = new ApiClient({
    token: cfg.token, retries: cfg.retries, retryBaseMs: cfg.retryDelayMs, retryMaxMs: Math.max(cfg.retryDelayMs, 30_000), maxWaitMs: cfg.maxWaitMs,
    timeoutMs: cfg.timeoutMs, connectTimeoutMs: Math.min(cfg.timeoutMs, 10_000), dispatcher: ctx.dispatcher, log,
    onRetry: (s) => retries.set(s, (retries.get(s) ?? 0) + 1),
  })
  const limiters = new Limiters({ maxRps: cfg.maxRps })
  const locks: DirLock[] = []
  try {
    for (const dir of new Set(cfg.sources.map((s) => s.dir))) locks.push(DirLock.acquire(dir, log, ctx.now))
    let exitCode = EXIT_CODES.OK
    const results = await Promise.all(
      cfg.sources.map(async (src) => {
        const summary = emptySummary(src.name)
        const started = ctx.now()
        try {
          await runSource(ctx, src, client, limiters, summary)
        } catch (err) {
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
    return { ok: exitCode === EXIT_CODES.OK, exitCode, sources: results }
  } finally {
    for (const l of locks) l.release()
    await client.close()
  }
}
