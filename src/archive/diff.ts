/**
 * DayDiff: compares one day file with what the API returns for that day, by record identity (the canonical key of
 * dedupe), streaming both. The API's records come ascending; the file is read forward only as far as the newest of
 * them plus the tolerance (a file steps back by at most the overlap), so memory holds the lines within the tolerance,
 * never the day. A line the API did not return is known once the API's records have passed its instant: two records
 * can only be the same when they share an instant. Lines outside [from, to) and lines that are no record (verify's
 * business) are not compared.
 */
import type { InstantOf } from '../messages.js'
import type { Micros } from '../time.js'
import { DayReader } from './lines.js'

/** What one day's comparison found. */
export interface DayCounts {
  /** Records of the file inside the compared range. */
  archived: number
  /** Records the API returned for the day. */
  api: number
  /** Records the API returned that the file lacks. */
  missing: number
  /** Records of the file the API did not return, within its retention (deleted at the source, or not ours). */
  unconfirmed: number
  /** Records of the file the API did not return, older than its retention (the API forgot them: expected). */
  beyondRetention: number
}

interface Entry {
  us: Micros
  key: string
  matched: boolean
}

/** Lines read between two settlements while reading far ahead. */
const SETTLE_EVERY = 1024

export class DayDiff {
  readonly path: string
  readonly counts: DayCounts = { archived: 0, api: 0, missing: 0, unconfirmed: 0, beyondRetention: 0 }
  readonly #tolUs: Micros
  readonly #from: Micros
  readonly #to: Micros
  readonly #retainedFrom: Micros
  readonly #file: DayReader
  readonly #queue: Entry[] = [] // file lines read and not yet settled, in file order
  readonly #byKey = new Map<string, Entry[]>() // unmatched lines of the queue by key

  private constructor(file: DayReader, o: DiffOptions) {
    this.path = file.path
    this.#file = file
    this.#tolUs = o.toleranceUs
    this.#from = o.from
    this.#to = o.to
    this.#retainedFrom = o.retainedFrom
  }

  /** Opens the day file (a missing one holds nothing). */
  static async open(path: string, o: DiffOptions): Promise<DayDiff> {
    return new DayDiff(await DayReader.open(path, o.instantOf), o)
  }

  /** Whether the file holds the record (instant `us`, canonical key `key`); the API's records must come ascending. */
  async has(us: Micros, key: string): Promise<boolean> {
    this.counts.api++
    await this.#readUntil(us + this.#tolUs, us - this.#tolUs)
    this.#settle(us - this.#tolUs)
    const list = this.#byKey.get(key)
    const e = list?.shift()
    if (list !== undefined && list.length === 0) this.#byKey.delete(key)
    if (e !== undefined) {
      e.matched = true
      return true
    }
    this.counts.missing++
    return false
  }

  /** Reads the rest of the file and settles every line (no API record comes any more); the counts are final after it. */
  async finish(): Promise<DayCounts> {
    while (!this.#file.done) await this.#readUntil(Infinity, Infinity)
    this.#settle(Infinity)
    await this.close()
    return this.counts
  }

  /** Releases the file; never throws. */
  async close(): Promise<void> {
    await this.#file.close()
  }

  /**
   * Reads lines until one is newer than `limit` (or the end). Lines older than `settleBelow` can no longer match, and
   * are settled as the reading goes: a long stretch of lines the API does not return is never held whole.
   */
  async #readUntil(limit: Micros, settleBelow: Micros): Promise<void> {
    let n = 0
    while (!this.#file.done && this.#file.newest <= limit) {
      if (++n % SETTLE_EVERY === 0) this.#settle(settleBelow)
      const line = await this.#file.next()
      if (line?.us === undefined || line.key === undefined) continue // the end, or a line that is no record
      if (line.us < this.#from || line.us >= this.#to) continue
      this.counts.archived++
      const e: Entry = { us: line.us, key: line.key, matched: false }
      this.#queue.push(e)
      const list = this.#byKey.get(e.key)
      if (list === undefined) this.#byKey.set(e.key, [e])
      else list.push(e)
    }
  }

  /** Lines older than `before` can no longer be matched (the API's records ascend): unmatched ones are counted. */
  #settle(before: Micros): void {
    while (this.#queue.length > 0 && this.#queue[0].us < before) {
      const e = this.#queue.shift() as Entry
      if (e.matched) continue
      const list = this.#byKey.get(e.key) as Entry[]
      list.splice(list.indexOf(e), 1)
      if (list.length === 0) this.#byKey.delete(e.key)
      if (e.us < this.#retainedFrom) this.counts.beyondRetention++
      else this.counts.unconfirmed++
    }
  }
}

export interface DiffOptions {
  instantOf: InstantOf
  /** How far a file may step back in time (the overlap). */
  toleranceUs: Micros
  /** The compared range [from, to): lines outside it are not compared. */
  from: Micros
  to: Micros
  /** The API's retention starts here: older lines it does not return are expected to be gone from it. */
  retainedFrom: Micros
}
