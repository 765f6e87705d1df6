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
import { recordKey } from '../sources/descriptor.js'
import type { WindowBatch } from '../sources/windowed.js'
import { show, type Micros } from '../time.js'

export interface DedupeOptions {
  /** Keys already archived; may still be loading (the first batch waits for it). */
  seed: Map<string, Micros> | Promise<{ keys: Map<string, Micros> }>
  overlapUs: Micros
  /** Newest archived instant; passing records older than it are late arrivals found in the overlap. */
  resume: Micros | undefined
}

/** Drops the keys of records older than `horizon`: what bounds every key set to the overlap. */
export function evictBefore(keys: Map<string, Micros>, horizon: Micros): void {
  for (const [k, us] of keys) if (us < horizon) keys.delete(k)
}

export class Dedupe extends Transform {
  #seen: Map<string, Micros> = new Map()
  #seed: Promise<{ keys: Map<string, Micros> }> | undefined
  readonly #overlapUs: Micros
  readonly #resume: Micros | undefined
  #newest = -Infinity
  /** Newest instant among the seed keys: a record newer than it cannot be a repeat. */
  #seedMax = -Infinity
  /** End of the previous batch: the next one must start at or after it. */
  #covered = -Infinity
  #dropped = 0
  #late = 0

  constructor(opts: DedupeOptions) {
    super({ objectMode: true, highWaterMark: 1 })
    if (opts.seed instanceof Map) this.#seeded(opts.seed)
    else this.#seed = opts.seed
    this.#overlapUs = opts.overlapUs
    this.#resume = opts.resume
  }

  override _transform(batch: WindowBatch, enc: BufferEncoding, cb: TransformCallback): void {
    if (this.#seed !== undefined) {
      const pending = this.#seed
      this.#seed = undefined
      pending.then((s) => {
        this.#seeded(s.keys)
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
        this.#dropped++
        return false
      }
      if (this.#resume !== undefined && r.us < this.#resume) this.#late++
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


  /** Records dropped as already seen. */
  get dropped(): number {
    return this.#dropped
  }

  /** Records older than the archive's newest that were not archived yet (late arrivals). */
  get late(): number {
    return this.#late
  }

  /** Keys currently held (bounded by the overlap window). */
  get size(): number {
    return this.#seen.size
  }
}
