/**
 * Window collector, pure. In: the items of each page of [lo, hi) (asked one unit wider), with the text of each as the
 * API sent it. Out: the records of [lo, hi) once each, ascending by (instant, canonical key), each carrying its own
 * text; the rejects with their reason; and what the pages broke of the API's contract (`anomalies`): the order they ran
 * in, records outside the requested bounds, records the requested filters exclude (dropped), records stamped in the
 * future or before the API's retention (rejected), records too deep (kept) or too large (rejected). Drops records of
 * neighbouring windows (they are theirs) and repeats (counted). No I/O, no clock.
 */
import { recordKey, recordText, textRecord, type AnomalyKind, type AuditRecord, type Rejected } from '../messages.js'
import type { Micros } from '../time.js'
import type { PageRecords } from './descriptor.js'
import { REPLACEMENT, oneLine, spanText } from './spans.js'

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

/** What a window's pages gave: its records in order, its rejects, and what it dropped, by why. */
export interface Collected {
  records: AuditRecord[]
  rejected: Rejected[]
  /** Repeats of a record inside the part kept. */
  repeats: number
  /** Records of the part kept that the requested filters exclude (anomaly filter-ignored). */
  filtered: number
  /** Records outside [lo, hi), neither rejected nor kept (a neighbour window's, from the bounds asked one unit wider). */
  neighbours: number
  /** Records inside [lo, hi) but outside the part kept, repeats and rejects included: fetched again by the rest. */
  refetched: number
  /** What single records of the part kept broke (deep, large, re-encoded, filter ignored, U+FFFD), by kind. */
  anomalies: Map<AnomalyKind, number>
}

/** The part of a window a cut pass keeps: records at or after `from`, before `below`. */
export interface KeptPart {
  from?: Micros
  below?: Micros
}

/** Records nested deeper than this are poison pills for recursive encoders: kept as sent, identified by their text. */
export const MAX_DEPTH = 64
/** Records longer than this (characters) cannot be read back by the archive's line readers: rejected. */
export const MAX_RECORD_CHARS = 512 * 1024
/** Out-of-window texts remembered per pass to tell an offset-shift repeat from a record out of order. */
const EDGE_TEXTS = 10_000

/** The checks a collector applies besides the window; each absent one is skipped. */
export interface CollectorChecks {
  /** The bounds asked of the API (already widened): a record outside them is an `outside-bounds` anomaly. */
  asked?: { after: Micros; before: Micros }
  /** Records stamped after this (now + max skew) are rejected as from the future. */
  futureAfter?: Micros
  /** Records stamped before this (older than the API's retention and the run's range) are rejected as ancient. */
  ancientBefore?: Micros
  /** The requested filter a record does not match, if any: such a record is dropped as `filter-ignored:<name>`. */
  mismatch?: (rec: Record<string, unknown>) => string | undefined
  /** Texts of records rejected already in this run (future, ancient): rejected once only, whichever window sees them. */
  rejectedOnce?: Set<string>
}

/** Which way a pass's records ran: newest first (`desc`, also when one instant only), oldest first, or neither. */
export type PassOrder = 'desc' | 'asc' | 'mixed'

/** A record inside the window as the collector holds it; `dropped`: seen (its repeats are no news), but never written. */
type Seen = AuditRecord & { dropped?: true }

/** The records seen at one instant: one (nearly always), or several by their exact text. */
type AtInstant = Seen | Map<string, Seen>

/** Whether two records hold the same bytes. */
function sameBytes(a: AuditRecord, b: AuditRecord): boolean {
  return a.end - a.start === b.end - b.start && a.buf.compare(b.buf, b.start, b.end, a.start, a.end) === 0
}

/** Whether the record's bytes hold U+FFFD (most likely invalid UTF-8 from the API, decoded lossily). */
function holdsReplacement(r: AuditRecord): boolean {
  return r.buf.subarray(r.start, r.end).indexOf(REPLACEMENT) >= 0
}

/** The text of record `i` as the API sent it, when the page has it. */
function sentText(page: PageRecords, i: number): string | undefined {
  const span = page.texts?.spans[i]
  return page.texts === undefined || span === undefined ? undefined : spanText(page.texts.body, span)
}

/** Gathers the records of [lo, hi) page by page; `finish()` orders and dedupes them. */
export class WindowCollector {
  // Repeats from offset shifts are the same text again: caught here by (instant, exact text); `ordered` then compares
  // canonically. Keyed by the instant, so that a record alone at its instant (nearly all) is never decoded or hashed.
  readonly #byInstant = new Map<Micros, AtInstant>()
  #lines = 0
  readonly #edge = new Set<string>()
  readonly #rejected: Rejected[] = []
  /** The instant of each reject (undefined: it has none), same order: a cut pass leaves the rest's rejects to it. */
  readonly #rejectedUs: (Micros | undefined)[] = []
  readonly #rejectedListed: boolean[] = []
  /** Anomalies of single records inside the window, with their instants: counted with the part kept. */
  readonly #perRecord: [AnomalyKind, Micros][] = []
  /** Instants of records the requested filters exclude, and of repeats inside the window (few: lists are enough). */
  readonly #filteredUs: Micros[] = []
  readonly #repeatUs: Micros[] = []
  /** Texts this pass added to the run's rejected-once set (taken back when the pass is thrown away). */
  readonly #onceAdded: string[] = []
  #neighbours = 0
  #distinct = 0
  #atOldest = 0
  #atAfter = false
  #atBefore = false
  /** What the pass broke as a whole (order, bounds, strays); single records' anomalies come with `finish`. */
  readonly anomalies = new Map<AnomalyKind, number>()
  #oldest: Micros | undefined
  #newest: Micros | undefined
  #min: Micros | undefined
  #max: Micros | undefined
  #desc = true
  #asc = true
  #outside = 0

  constructor(
    readonly lo: Micros,
    readonly hi: Micros,
    private readonly checks: CollectorChecks = {},
  ) {}

  #count(kind: AnomalyKind): void {
    this.anomalies.set(kind, (this.anomalies.get(kind) ?? 0) + 1)
  }

  /** Sets a record aside; `us` its instant when known, `listed` when it is in #byInstant too (counted there when cut off). */
  #reject(reason: string, record: unknown, text: string | undefined, us?: Micros, listed = true): void {
    this.#rejected.push(text === undefined ? { reason, record } : { reason, record, text: oneLine(text) })
    this.#rejectedUs.push(us)
    this.#rejectedListed.push(listed)
  }

  /**
   * A record's anomaly, counted with the part of the window that keeps it (a cut pass leaves the rest's records, and
   * their anomalies, to the pass that fetches them again: each record is counted once).
   */
  #countAt(kind: AnomalyKind, us: Micros): void {
    this.#perRecord.push([kind, us])
  }

  /**
   * The record as sent (its bytes in the page body; taken off the line breaks between its tokens, re-encoded), or its
   * re-encoding; undefined when it cannot be encoded.
   */
  #record(us: Micros, page: PageRecords, i: number): { rec: AuditRecord | undefined; reencoded: boolean } {
    const span = page.texts?.spans[i]
    if (page.texts !== undefined && span !== undefined) {
      if (!span.breaks) return { rec: { us, buf: page.texts.body, start: span.start, end: span.end }, reencoded: false }
      return { rec: textRecord(us, oneLine(spanText(page.texts.body, span))), reencoded: true }
    }
    try {
      return { rec: textRecord(us, JSON.stringify(page.item(i))), reencoded: true }
    } catch {
      return { rec: undefined, reencoded: true } // too deep to encode and no text to keep: the caller rejects it (counted)
    }
  }

  /** Takes the records of one page; returns how many were new to this pass. */
  add(page: PageRecords): number {
    let fresh = 0
    for (let i = 0; i < page.length; i++) if (this.#take(page, i)) fresh++
    return fresh
  }

  /** Record `i` of `page`; true when it was not seen before in this pass. */
  #take(page: PageRecords, i: number): boolean {
    const texts = page.texts
    if (!page.isObject(i)) {
      this.#reject('not a JSON object', page.item(i), sentText(page, i))
      return true
    }
    const us = page.instant(i)
    if (us === undefined) {
      this.#reject('no valid timestamp', page.item(i), sentText(page, i))
      return true
    }
    const inside = us >= this.lo && us < this.hi
    const { rec, reencoded } = this.#record(us, page, i)
    if (rec === undefined) {
      if (!inside) {
        this.#neighbours++ // its own window rejects it
        return true
      }
      this.#countAt('reencoded', us)
      this.#countAt('deep-record', us)
      this.#reject(`nested deeper than ${MAX_DEPTH} levels and not sliceable from the page`, page.item(i), undefined, us, false)
      return true
    }
    const line = inside ? undefined : recordText(rec)
    const seen = line === undefined ? this.#seenBefore(rec) : this.#edge.has(line)
    // Records outside the bounds asked (strays, counted as such) say nothing of the order the window's pages run in.
    const asked = this.checks.asked
    if (asked === undefined || (us >= asked.after && us <= asked.before)) this.#order(us, seen)
    if (seen) {
      if (inside) this.#repeatUs.push(us)
      else this.#neighbours++
      return false
    }
    if (line !== undefined) return this.#outsider(us, page, i, line, reencoded)
    if (reencoded) this.#countAt('reencoded', us)
    return this.#keep(rec, page, i, reencoded || texts?.replacement === true)
  }

  /** Whether a record of the same instant and the same text was seen inside the window already. */
  #seenBefore(rec: AuditRecord): boolean {
    const at = this.#byInstant.get(rec.us)
    if (at === undefined) return false
    return at instanceof Map ? at.has(recordText(rec)) : sameBytes(at, rec)
  }

  /** Remembers a record inside the window (not seen before). */
  #remember(rec: Seen): void {
    const at = this.#byInstant.get(rec.us)
    if (at === undefined) this.#byInstant.set(rec.us, rec)
    else if (at instanceof Map) at.set(recordText(rec), rec)
    else this.#byInstant.set(rec.us, new Map([[recordText(at), at], [recordText(rec), rec]]))
    this.#lines++
  }

  /** Newest first within and across pages: a record not seen before must not be newer than any seen before it. */
  #order(us: Micros, seen: boolean): void {
    if (!seen && this.#min !== undefined && this.#max !== undefined) {
      if (us > this.#min) this.#desc = false
      if (us < this.#max) this.#asc = false
    }
    if (this.#min === undefined || us < this.#min) this.#min = us
    if (this.#max === undefined || us > this.#max) this.#max = us
  }

  /** A record outside [lo, hi): outside the asked bounds it is counted; stamped in the future or ancient, rejected. */
  #outsider(us: Micros, page: PageRecords, i: number, line: string, reencoded: boolean): boolean {
    if (this.#edge.size < EDGE_TEXTS) this.#edge.add(line)
    const c = this.checks
    if (us === c.asked?.after) this.#atAfter = true
    if (us === c.asked?.before) this.#atBefore = true
    if (c.asked !== undefined && (us < c.asked.after || us > c.asked.before)) {
      this.#outside++
      this.#count('outside-bounds')
    }
    const future = c.futureAfter !== undefined && us > c.futureAfter
    const ancient = c.ancientBefore !== undefined && us < c.ancientBefore
    if ((future || ancient) && !(c.rejectedOnce?.has(line) ?? false)) {
      c.rejectedOnce?.add(line)
      this.#onceAdded.push(line)
      if (reencoded) this.#count('reencoded')
      this.#count(future ? 'future-record' : 'ancient-record')
      this.#reject(future ? 'stamped after now + --max-skew' : "stamped before the API's retention", page.item(i), line)
    } else this.#neighbours++
    return true
  }

  /** Record `i` of `page` inside the window, not seen before; `suspect`: its bytes may hold U+FFFD (else they cannot). */
  #keep(rec: Seen, page: PageRecords, i: number, suspect: boolean): boolean {
    const c = this.checks
    const us = rec.us
    // Characters (UTF-16 units) are never more than the UTF-8 bytes: only a record of more bytes is decoded to count them.
    if (rec.end - rec.start > MAX_RECORD_CHARS) {
      const line = recordText(rec)
      if (line.length > MAX_RECORD_CHARS) {
        this.#countAt('large-record', us)
        this.#reject(`longer than ${MAX_RECORD_CHARS} characters`, page.item(i), line, us)
        rec.dropped = true
        this.#remember(rec)
        return true
      }
    }
    const failed = c.mismatch?.(page.item(i) as Record<string, unknown>)
    if (failed !== undefined) {
      this.#countAt(`filter-ignored:${failed}` as AnomalyKind, us)
      this.#filteredUs.push(us)
      rec.dropped = true
      this.#remember(rec)
      return true
    }
    if ((page.texts?.spans[i]?.depth ?? 0) > MAX_DEPTH) this.#countAt('deep-record', us)
    if (suspect && holdsReplacement(rec)) this.#countAt('replacement-character', us)
    if (this.#oldest === undefined || us < this.#oldest) {
      this.#oldest = us
      this.#atOldest = 0
    }
    if (us === this.#oldest) this.#atOldest++
    if (this.#newest === undefined || us > this.#newest) this.#newest = us
    this.#remember(rec)
    this.#distinct++
    return true
  }

  /** The oldest instant inside the window seen so far. */
  get oldest(): Micros | undefined {
    return this.#oldest
  }

  /** Records kept so far at the oldest instant (what a cut of the pass now would fetch again). */
  get atOldest(): number {
    return this.#atOldest
  }

  /** The newest instant inside the window seen so far. */
  get newest(): Micros | undefined {
    return this.#newest
  }

  /** Which way the pass's records ran so far. */
  get order(): PassOrder {
    return this.#desc ? 'desc' : this.#asc ? 'asc' : 'mixed'
  }

  /** Whether `order` rests on evidence: records of two instants or more within the asked bounds (one proves no order). */
  get orderShown(): boolean {
    return this.#min !== undefined && this.#min !== this.#max
  }

  /** Which asked bounds this pass proved inclusive (a record at exactly that bound, and none outside the bounds). */
  get boundsSeen(): BoundsSeen {
    return { afterInclusive: this.#atAfter && this.#outside === 0, beforeInclusive: this.#atBefore && this.#outside === 0 }
  }

  /** Records seen outside the bounds asked of the API. */
  get outside(): number {
    return this.#outside
  }

  /** Distinct records inside the window kept so far (not filtered, not rejected). */
  get distinct(): number {
    return this.#distinct
  }

  /** Distinct lines inside the window so far. */
  get size(): number {
    return this.#lines
  }

  /**
   * The window's records ascending by (instant, key), each once, and its rejects; with `part`, only those of the part
   * a cut pass keeps (what it received of the rest is counted `refetched`: the rest's own pass fetches it again).
   */
  finish(part: KeptPart = {}): Collected {
    const from = part.from ?? -Infinity
    const below = part.below ?? Infinity
    const inPart = (us: Micros): boolean => us >= from && us < below
    const kept: AuditRecord[] = []
    let refetched = 0
    const visit = (r: Seen): void => {
      if (!inPart(r.us)) refetched++
      else if (r.dropped !== true) kept.push(r)
    }
    for (const at of this.#byInstant.values()) {
      if (at instanceof Map) for (const r of at.values()) visit(r)
      else visit(at)
    }
    const rejected = this.#rejected.filter((_, i) => {
      const us = this.#rejectedUs[i]
      const keep = us === undefined || us < this.lo || us >= this.hi || inPart(us)
      if (!keep && !this.#rejectedListed[i]) refetched++
      return keep
    })
    const anomalies = new Map<AnomalyKind, number>()
    for (const [kind, us] of this.#perRecord) if (inPart(us)) anomalies.set(kind, (anomalies.get(kind) ?? 0) + 1)
    const repeats = this.#repeatUs.filter(inPart).length
    const filtered = this.#filteredUs.filter(inPart).length
    refetched += this.#repeatUs.length - repeats // rejects and filtered are in #byInstant already
    const sorted = ordered(kept)
    return { records: sorted.records, rejected, repeats: repeats + sorted.repeats, filtered, neighbours: this.#neighbours, refetched, anomalies }
  }

  /** The pass is thrown away (fetched again): the records it rejected once will be rejected by the pass that replaces it. */
  forget(): void {
    for (const line of this.#onceAdded) this.checks.rejectedOnce?.delete(line)
  }
}

/** What a run has seen of the API's bounds: a record at exactly the bound asked proves that bound inclusive. */
export interface BoundsSeen {
  afterInclusive: boolean
  beforeInclusive: boolean
}

/**
 * The bounds to ask the API for [lo, hi): one unit wider on each side, so the result is right whatever the API's bound
 * inclusiveness (API.md §2 says inclusive, nobody is sure); the collector filters back to [lo, hi). A bound seen to be
 * inclusive is asked exactly: otherwise a burst at one instant just outside the window fills its pages.
 */
export function requestBounds(lo: Micros, hi: Micros, unit: number, seen?: BoundsSeen): { after: Micros; before: Micros } {
  const after = seen?.afterInclusive === true ? Math.ceil(lo / unit) * unit : Math.floor(lo / unit) * unit - unit
  const before = seen?.beforeInclusive === true ? Math.ceil(hi / unit) * unit - unit : Math.ceil(hi / unit) * unit
  return { after, before }
}
