/**
 * Window collector, pure. In: the items of each page of [lo, hi) (asked one unit wider). Out: the records of [lo, hi)
 * once each, ascending by (instant, canonical key), and the rejects with their reason. Drops records of neighbouring
 * windows (uncounted: they are theirs) and repeats (counted). No I/O, no clock.
 */
import { isObject, recordKey, type AuditRecord, type InstantOf, type Rejected } from '../messages.js'
import type { Micros } from '../time.js'

function compareKeys(a: AuditRecord, b: AuditRecord): number {
  const ka = recordKey(a)
  const kb = recordKey(b)
  return ka < kb ? -1 : ka > kb ? 1 : 0
}

/**
 * Orders a window's records by (instant, canonical key) and drops repeats of the same canonical content. Only records
 * sharing an instant can be the same record (the instant is part of the content), so canonical keys are computed for
 * those alone; a record alone at its instant is kept as it is. Sorts `list` in place; returns the kept records.
 */
export function ordered(list: AuditRecord[]): { records: AuditRecord[]; repeats: number } {
  list.sort((a, b) => a.us - b.us)
  const records: AuditRecord[] = []
  let repeats = 0
  for (let i = 0; i < list.length; ) {
    let j = i + 1
    while (j < list.length && list[j].us === list[i].us) j++
    if (j - i === 1) records.push(list[i])
    else {
      const group = list.slice(i, j).sort(compareKeys)
      records.push(group[0])
      for (let k = 1; k < group.length; k++) {
        if (recordKey(group[k]) === recordKey(group[k - 1])) repeats++
        else records.push(group[k])
      }
    }
    i = j
  }
  return { records, repeats }
}

/** What a window's pages gave: its records in order, its rejects, and the repeats dropped. */
export interface Collected {
  records: AuditRecord[]
  rejected: Rejected[]
  repeats: number
}

/** Gathers the records of [lo, hi) page by page; `finish()` orders and dedupes them. */
export class WindowCollector {
  // Repeats from offset shifts are the same text again: caught here by the line; `ordered` then compares canonically.
  readonly #byLine = new Map<string, AuditRecord>()
  readonly #rejected: Rejected[] = []
  #repeats = 0
  #oldest: Micros | undefined

  constructor(
    readonly lo: Micros,
    readonly hi: Micros,
    private readonly instantOf: InstantOf,
  ) {}

  /** Takes the items of one page. */
  add(items: readonly unknown[]): void {
    for (const item of items) {
      if (!isObject(item)) {
        this.#rejected.push({ reason: 'not a JSON object', record: item })
        continue
      }
      const us = this.instantOf(item)
      if (us === undefined) {
        this.#rejected.push({ reason: 'no valid timestamp', record: item })
        continue
      }
      if (us < this.lo || us >= this.hi) continue // belongs to a neighbouring window
      if (this.#oldest === undefined || us < this.#oldest) this.#oldest = us
      const line = JSON.stringify(item)
      if (this.#byLine.has(line)) this.#repeats++
      else this.#byLine.set(line, { us, line })
    }
  }

  /** The oldest instant inside the window seen so far. */
  get oldest(): Micros | undefined {
    return this.#oldest
  }

  /** Distinct lines inside the window so far. */
  get size(): number {
    return this.#byLine.size
  }

  /** The window's records ascending by (instant, key), each once; its rejects; the repeats dropped on the way. */
  finish(): Collected {
    const sorted = ordered([...this.#byLine.values()])
    return { records: sorted.records, rejected: this.#rejected, repeats: this.#repeats + sorted.repeats }
  }
}

/**
 * The bounds to ask the API for [lo, hi): one unit wider on each side, so the result is right whatever the API's bound
 * inclusiveness (API.md §2 says inclusive, nobody is sure); the collector filters back to [lo, hi).
 */
export function requestBounds(lo: Micros, hi: Micros, unit: number): { after: Micros; before: Micros } {
  return { after: Math.floor(lo / unit) * unit - unit, before: Math.ceil(hi / unit) * unit }
}
