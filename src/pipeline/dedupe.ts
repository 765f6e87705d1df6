/**
 * Dedupe: drops records already archived (seeded from the checkpoint) or already passed in this run.
 * in/out: WindowBatch (records ascending). Keys older than newest − overlap are evicted, so memory stays bounded.
 */
import { Transform, type TransformCallback } from 'node:stream'
import type { WindowBatch } from '../sources/windowed.js'
import type { Micros } from '../time.js'

export interface DedupeOptions {
  /** Keys already archived; may still be loading (the first batch waits for it). */
  seed: Map<string, Micros> | Promise<{ keys: Map<string, Micros> }>
  overlapUs: Micros
  /** Newest archived instant; passing records older than it are late arrivals found in the overlap. */
  resume: Micros | undefined
}

export class Dedupe extends Transform {
  #seen: Map<string, Micros> = new Map()
  #seed: Promise<{ keys: Map<string, Micros> }> | undefined
  readonly #overlapUs: Micros
  readonly #resume: Micros | undefined
  #newest = -Infinity
  #dropped = 0
  #late = 0

  constructor(opts: DedupeOptions) {
    super({ objectMode: true, highWaterMark: 1 })
    if (opts.seed instanceof Map) this.#seen = new Map(opts.seed)
    else this.#seed = opts.seed
    this.#overlapUs = opts.overlapUs
    this.#resume = opts.resume
  }

  override _transform(batch: WindowBatch, enc: BufferEncoding, cb: TransformCallback): void {
    if (this.#seed !== undefined) {
      const pending = this.#seed
      this.#seed = undefined
      pending.then((s) => {
        this.#seen = s.keys
        this._transform(batch, enc, cb)
      }, (err: unknown) => cb(err as Error))
      return
    }
    const kept = batch.records.filter((r) => {
      if (this.#seen.has(r.key)) {
        this.#dropped++
        return false
      }
      this.#seen.set(r.key, r.us)
      if (this.#resume !== undefined && r.us < this.#resume) this.#late++
      if (r.us > this.#newest) this.#newest = r.us
      return true
    })
    this.#evict()
    cb(null, { ...batch, records: kept })
  }

  #evict(): void {
    const horizon = this.#newest - this.#overlapUs
    for (const [k, us] of this.#seen) if (us < horizon) this.#seen.delete(k)
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
