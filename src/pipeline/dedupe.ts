/**
 * Dedupe: drops records already archived (seeded from the checkpoint's overlap, or the --state-file cursor).
 * in/out: WindowBatch (records ascending, batches disjoint and ascending: WindowedSource's windows are half-open ranges
 * of instants, and a record's instant is part of its content, so a record of this run can only repeat inside its own
 * window, where the source already dropped it). A record can therefore only be a repeat of a seed key, and only when
 * it is not newer than the newest seed instant: only those records get their canonical key computed. Keys older than
 * newest − overlap are evicted, so memory stays bounded. Batches that overlap are a broken invariant (INTERNAL error).
 */
import { Transform, type TransformCallback } from 'node:stream'
import { Y360Error } from '../errors.js'
import { evictBefore, recordKey, type SourceStats, type WindowBatch } from '../messages.js'
import { show, type Micros } from '../time.js'

export interface DedupeOptions {
  /** Keys already archived; may still be loading (the first batch waits for it). */
  seed: Map<string, Micros> | Promise<Map<string, Micros>>
  overlapUs: Micros
  /** Newest archived instant; passing records older than it are late arrivals found in the overlap. */
  resume: Micros | undefined
  /** Counts `duplicates` (dropped) and `late` (kept, older than `resume`). */
  stats: SourceStats
}

export class Dedupe extends Transform {
  #seen: Map<string, Micros> = new Map()
  #seed: Promise<Map<string, Micros>> | undefined
  readonly #overlapUs: Micros
  readonly #resume: Micros | undefined
  #newest = -Infinity
  /** Newest instant among the seed keys: a record newer than it cannot be a repeat. */
  #seedMax = -Infinity
  /** End of the previous batch: the next one must start at or after it. */
  #covered = -Infinity
  readonly #stats: SourceStats

  constructor(opts: DedupeOptions) {
    super({ objectMode: true, highWaterMark: 1 })
    if (opts.seed instanceof Map) this.#seeded(opts.seed)
    else this.#seed = opts.seed
    this.#overlapUs = opts.overlapUs
    this.#resume = opts.resume
    this.#stats = opts.stats
  }

  override _transform(batch: WindowBatch, enc: BufferEncoding, cb: TransformCallback): void {
    if (this.#seed !== undefined) {
      const pending = this.#seed
      this.#seed = undefined
      pending.then((keys) => {
        this.#seeded(keys)
        this._transform(batch, enc, cb)
      }, (err: unknown) => cb(err as Error))
      return
    }
    if (batch.lo < this.#covered) {
      cb(new Y360Error('INTERNAL', `dedupe: window ${show(batch.lo)}..${show(batch.hi)} overlaps the previous one (ending ${show(this.#covered)}); records could repeat`))
      return
    }
    this.#covered = batch.hi
    const kept = batch.records.filter((r) => {
      if (r.us <= this.#seedMax && this.#seen.has(recordKey(r))) {
        this.#stats.duplicates++
        return false
      }
      if (this.#resume !== undefined && r.us < this.#resume) this.#stats.late++
      if (r.us > this.#newest) this.#newest = r.us
      return true
    })
    evictBefore(this.#seen, this.#newest - this.#overlapUs)
    cb(null, { ...batch, records: kept })
  }

  /** Takes the seed's keys (the map is the seed's own: read for this run, or copied from the cursor). */
  #seeded(keys: Map<string, Micros>): void {
    this.#seen = keys
    for (const us of keys.values()) if (us > this.#seedMax) this.#seedMax = us
  }


  /** Keys currently held (bounded by the overlap window). */
  get size(): number {
    return this.#seen.size
  }
}
