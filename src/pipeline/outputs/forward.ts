/**
 * --syslog beside the archive: the archive output runs as always, then (in commit, still under the archive's locks)
 * each source's day files are read from the forwarder's own position and sent to syslog. The API is read once; a
 * syslog outage fails the forwarder (SYSLOG_FAILED, exit 9) after the archive is complete, and the next run catches up
 * from the position. The position (`.<base>.syslog.json`: day file, byte offset after the last acknowledged line, its
 * inode and that line's instant) moves only over acknowledged messages.
 */
import { readFile } from 'node:fs/promises'
import split2 from 'split2'
import { openRead, writeFileAtomic } from '../../atomic.js'
import { forwardStateFile, listArchive, type ArchiveId } from '../../archive/layout.js'
import { MAX_LINE } from '../../archive/lines.js'
import type { Config, SourceConfig } from '../../config.js'
import { Y360Error } from '../../errors.js'
import type { Logger } from '../../log.js'
import type { SourceStats } from '../../messages.js'
import { Delivery, showEndpoint, type SyslogEndpoint } from '../../sinks/syslog.js'
import { ENDPOINTS } from '../../sources/index.js'
import { show, type Micros } from '../../time.js'
import type { Outcome } from '../outcome.js'
import type { Output, SourceTarget } from '../output.js'
import { deliveryOptions, formatter, logDelivery, syslogEndpoint, type Formatter } from './syslog.js'

/** Where a source's forwarding stands: just after the last acknowledged line. */
export interface ForwardPosition {
  day: string
  offset: number
  ino: number
  us: Micros
}

/** Lines per write to the socket (one window's worth, as the pipeline's sink would). */
const BATCH = 200

async function loadPosition(path: string): Promise<ForwardPosition | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new Y360Error('CONFIG_INVALID', `cannot read the syslog forwarder's position ${path}: ${(err as Error).message}`, { path }, { cause: err })
  }
  const p = (() => {
    try {
      return JSON.parse(text) as Partial<ForwardPosition> & { version?: number }
    } catch {
      return undefined
    }
  })()
  if (p?.version !== 1 || typeof p.day !== 'string' || !Number.isSafeInteger(p.offset) || !Number.isSafeInteger(p.ino) || !Number.isSafeInteger(p.us)) {
    throw new Y360Error('CONFIG_INVALID', `${path} is not a syslog forwarder position; move it away to forward again from the records of the last --lookback`, { path })
  }
  return { day: p.day, offset: p.offset as number, ino: p.ino as number, us: p.us as number }
}

async function savePosition(path: string, pos: ForwardPosition, ep: SyslogEndpoint, nowMs: number): Promise<void> {
  const doc = { version: 1, syslog: showEndpoint(ep), updated: new Date(nowMs).toISOString(), ...pos, instant: show(pos.us) }
  try {
    await writeFileAtomic(path, JSON.stringify(doc) + '\n', 0o640)
  } catch (err) {
    throw new Y360Error('SINK_WRITE', `cannot write the syslog forwarder's position ${path}: ${(err as Error).message}; what was sent is sent again by the next run`, { path }, { cause: err })
  }
}

/** The complete lines of [start, end) of an open file, each with the offset just after its newline. */
async function* completeLines(fh: Awaited<ReturnType<typeof openRead>>, start: number, end: number): AsyncGenerator<{ text: string; end: number }> {
  if (start >= end) return
  const input = fh.createReadStream({ start, end: end - 1, autoClose: false })
  const lines = split2('\n', { maxLength: MAX_LINE })
  input.on('error', (err) => lines.destroy(err))
  input.pipe(lines)
  let at = start
  try {
    for await (const text of lines as AsyncIterable<string>) {
      at += Buffer.byteLength(text) + 1
      if (at > end) return // the last line has no newline yet: not a record to send
      yield { text, end: at }
    }
  } finally {
    input.destroy()
    lines.destroy()
  }
}

/** What one source's forwarding needs. */
interface ForwardJob {
  archive: ArchiveId
  source: SourceConfig['name']
  format: Formatter
  compact: boolean
  /** First time (no position): lines older than this are not forwarded. */
  floorUs: Micros
  delivery: (onAck: (marks: ForwardPosition[]) => Promise<void>) => Delivery<ForwardPosition>
  log: Logger
}

/** Sends one day file's complete lines after the position (by offset, or by instant when the file was rewritten). */
async function forwardFile(job: ForwardJob, d: Delivery<ForwardPosition>, file: { day: string; path: string }, at: ForwardPosition | undefined): Promise<number> {
  const fh = await openRead(file.path)
  try {
    const st = await fh.stat()
    // Same file as last time and not shorter: go on from the offset; else (rewritten by a backfill) by instant.
    const resumes = at !== undefined && at.day === file.day
    const start = resumes && st.ino === at.ino && st.size >= at.offset ? at.offset : 0
    const skipBefore = resumes && start === 0 ? Math.max(job.floorUs, at.us) : job.floorUs
    const instantOf = ENDPOINTS[job.source].timestamp
    let frames: Buffer[] = []
    let pos: ForwardPosition | undefined
    let sent = 0
    const push = async (): Promise<void> => {
      if (frames.length === 0 || pos === undefined) return
      await d.push(Buffer.concat(frames), frames.length, pos)
      sent += frames.length
      frames = []
    }
    for await (const { text, end } of completeLines(fh, start, st.size)) {
      const data = parseLine(text)
      const us = data === undefined ? undefined : instantOf(data)
      if (us === undefined) {
        job.log.warn({ source: job.source, file: file.path }, `${job.source}: the syslog forwarder skips a line of ${file.path} that is not a record (ending at byte ${end})`)
        continue
      }
      if (us < skipBefore) continue
      frames.push(job.format(us, job.compact ? text : JSON.stringify(data), data))
      pos = { day: file.day, offset: end, ino: st.ino, us }
      if (frames.length >= BATCH) await push()
    }
    await push()
    return sent
  } finally {
    await fh.close()
  }
}

function parseLine(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text)
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/** Forwards one source's archive from its position to its end; the position is saved at every acknowledgement. */
async function forwardSource(job: ForwardJob, ep: SyslogEndpoint, now: () => number): Promise<void> {
  const path = forwardStateFile(job.archive)
  const at = await loadPosition(path)
  const d = job.delivery((marks) => savePosition(path, marks[marks.length - 1], ep, now()))
  let sent = 0
  try {
    for (const file of await listArchive(job.archive)) {
      if (at !== undefined && file.day < at.day) continue
      sent += await forwardFile(job, d, file, at)
    }
    await d.flush()
  } finally {
    d.destroy()
    job.log.debug({ source: job.source, sent }, `${job.source}: forwarder read ${sent} records from the archive`)
    logDelivery(job.log, `${job.source} forwarder`, ep, d)
  }
}

/** The archive output, then the forwarder (see the module comment). */
export class ForwardingOutput implements Output {
  readonly #cfg: Config
  readonly #log: Logger
  readonly #now: () => number
  readonly #signal: AbortSignal
  readonly #inner: Output
  #endpoint: SyslogEndpoint | undefined
  #floorUs: Micros = 0

  constructor(cfg: Config, log: Logger, now: () => number, signal: AbortSignal, inner: Output) {
    this.#cfg = cfg
    this.#log = log
    this.#now = now
    this.#signal = signal
    this.#inner = inner
  }

  get mode(): Output['mode'] {
    return this.#inner.mode
  }

  async open(): Promise<void> {
    this.#endpoint = await syslogEndpoint(this.#cfg)
    // Before any source plans its range: a first forwarding then covers every record this run fetches.
    this.#floorUs = (this.#now() - this.#cfg.lookbackMs) * 1000
    await this.#inner.open()
  }

  source(src: SourceConfig, stats: SourceStats): Promise<SourceTarget> {
    return this.#inner.source(src, stats)
  }

  quietEnd(err: unknown): boolean {
    return this.#inner.quietEnd(err)
  }

  /** The archive's commit, then every source forwarded (side by side); the first failure is thrown once all ended. */
  async commit(clean: boolean, outcomes: readonly Outcome[]): Promise<void> {
    await this.#inner.commit(clean, outcomes)
    const ep = this.#endpoint as SyslogEndpoint
    if (!clean || this.#signal.aborted) {
      this.#log.info(`syslog ${showEndpoint(ep)}: not forwarding after an interrupted run; the next run forwards from where it stopped`)
      return
    }
    const results = await Promise.allSettled(this.#cfg.sources.map((src) => forwardSource(this.#job(src), ep, this.#now)))
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown)
    if (failed.length > 0) throw failed[0]
  }

  #job(src: SourceConfig): ForwardJob {
    const cfg = this.#cfg
    const label = `${src.name} forwarder`
    return {
      archive: { dir: src.dir, base: src.base, ext: cfg.ext }, source: src.name, format: formatter(cfg, src.name), compact: cfg.lineFormat === 'compact', floorUs: this.#floorUs, log: this.#log,
      delivery: (onAck) => new Delivery<ForwardPosition>(deliveryOptions(cfg, this.#endpoint as SyslogEndpoint, label, this.#log, this.#signal, onAck)),
    }
  }

  close(): void {
    this.#inner.close()
  }
}
