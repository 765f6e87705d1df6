/**
 * StdoutSink: writes each window's lines to stdout (NDJSON, nothing else) and awaits stdout's callback before taking
 * the next window, so a slow reader slows the fetching. What stdout accepted is recorded in a DeliveryTracker (the
 * --state-file cursor). A reader that went away (EPIPE, a destroyed stream) fails the write with OUTPUT_CLOSED.
 */
import { Writable } from 'node:stream'
import { Y360Error } from '../errors.js'
import type { SinkChunk, SourceStats } from '../messages.js'
import type { DeliveryTracker } from './cursor.js'
import { LineEncoder } from './encode.js'

const CLOSED_CODES = new Set(['EPIPE', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END', 'ECONNRESET'])

/** True when an error means the reader of stdout is gone. */
export function isOutputClosed(err: unknown): boolean {
  return (err instanceof Y360Error && err.code === 'OUTPUT_CLOSED') || CLOSED_CODES.has((err as { code?: string } | null)?.code ?? '')
}

/** True for the error a stop (SIGINT/SIGTERM, the run's abort signal) destroys the pipeline with. */
export function isStop(err: Error | null): boolean {
  return err?.name === 'AbortError' || (err instanceof Y360Error && err.code === 'INTERRUPTED')
}

export class StdoutSink extends Writable {
  readonly #out: NodeJS.WritableStream
  readonly #tracker: DeliveryTracker
  readonly #source: string
  readonly #stats: SourceStats
  readonly #onError = (): void => undefined // the write callback reports it; without a listener EPIPE would crash the process
  #inflight: Promise<void> | undefined // the write stdout has not called back yet
  readonly #encoder = new LineEncoder()

  constructor(out: NodeJS.WritableStream, tracker: DeliveryTracker, source: string, stats: SourceStats) {
    super({ objectMode: true, highWaterMark: 1 })
    this.#out = out
    this.#tracker = tracker
    this.#source = source
    this.#stats = stats
    out.on('error', this.#onError)
  }

  override _write(chunk: SinkChunk, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const records = chunk.segments.length === 1 ? chunk.segments[0].records : chunk.segments.flatMap((s) => s.records)
    // A copy of the encoder's buffer: a stream may hold a chunk past its callback (a pipe's reader, a PassThrough).
    const bytes = Buffer.from(this.#encoder.encode(records))
    // Rejected records never reach stdout (it carries records only); they are counted in the summary.
    this.#stats.rejected += chunk.rejected.length
    if (bytes.length === 0) return cb()
    let settle = (): void => undefined
    this.#inflight = new Promise((resolve) => (settle = resolve))
    const done = (err?: Error | null): void => {
      settle()
      if (err) return cb(this.#wrap(err))
      this.#tracker.delivered(records)
      for (const s of chunk.segments) this.#stats.wrote(s)
      cb()
    }
    const w = this.#out as NodeJS.WritableStream & { destroyed?: boolean; writableEnded?: boolean }
    if (w.destroyed === true || w.writableEnded === true) return done(Object.assign(new Error('stdout is closed'), { code: 'ERR_STREAM_DESTROYED' }))
    try {
      this.#out.write(bytes, done)
    } catch (err) {
      done(err as Error)
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // The target emits its 'error' on a later tick than the failed write's callback: keep listening until then.
    const end = (): void => {
      setImmediate(() => this.#out.off('error', this.#onError))
      cb(err)
    }
    // Another stage failed while stdout still held a window: its callback counts it (the summary, the cursor). Not on
    // a stop (signal): a reader that stopped reading would hold the run.
    if (this.#inflight === undefined || isStop(err)) return end()
    this.#inflight.then(end, end)
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#out.off('error', this.#onError)
    cb()
  }

  #wrap(err: Error): Error {
    if (isOutputClosed(err)) return new Y360Error('OUTPUT_CLOSED', `${this.#source}: the reader of stdout went away; stopping (the state file keeps its previous position)`, { source: this.#source }, { cause: err })
    return new Y360Error('SINK_WRITE', `${this.#source}: cannot write to stdout: ${err.message}`, { source: this.#source }, { cause: err })
  }
}
