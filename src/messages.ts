/**
 * What travels between the stages: the record and its identity, rejected records, window batches, sink chunks, and the
 * one stats object per source that every stage counts into. Neutral ground: sources, transforms, sinks and the
 * composer all import this module, and it imports nothing of theirs.
 */
import { hash } from 'node:crypto'
import stableStringify from 'fast-json-stable-stringify'
import type { Micros } from './time.js'

/**
 * One record as it travels through the pipeline: its instant, its content as the API sent it (compact JSON in the
 * API's key order) and, once somebody needed it, its canonical identity (`recordKey`). The content is UTF-8 bytes
 * [start, end) of `buf`, most often the body of the page it came in (shared by that page's records), not a parsed
 * object and not a string: a window holds up to thousands of records across several page requests, and bytes outside
 * V8's heap are neither copied by its young-generation collections nor re-encoded to be written (a string sliced from
 * the decoded body kept the whole body string alive, and the collector copied it: bench/RESULTS.md). `recordText`
 * decodes it where a string is needed. The key is computed lazily because two records can only be the same record
 * when they share an instant: most records never need it. `out` is the line to write when it differs from the API's
 * text (another line format, a `_source` tag): the record and its encoded line travel together.
 */
export interface AuditRecord {
  us: Micros
  buf: Buffer
  start: number
  end: number
  key?: string
  out?: string
}

/** A record whose text is `text` (re-encoded records, archive lines, tests): its bytes in a buffer of their own. */
export function textRecord(us: Micros, text: string): AuditRecord {
  const buf = Buffer.from(text, 'utf8')
  return { us, buf, start: 0, end: buf.length }
}

/** The record's text as the API sent it, decoded. */
export function recordText(r: Pick<AuditRecord, 'buf' | 'start' | 'end'>): string {
  return r.buf.toString('utf8', r.start, r.end)
}

/** Reads a record's instant from its own timestamp field (each endpoint has its own); undefined when missing or malformed. */
export type InstantOf = (rec: Record<string, unknown>) => Micros | undefined

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * Canonical identity of a record: equal content gives an equal key whatever the key order or spacing. The canonical
 * form (fast-json-stable-stringify) is reduced to its SHA-256 so that the keys held for dedupe cost 44 bytes, not a
 * copy of every record.
 */
export function canonicalKey(data: unknown): string {
  return hash('sha256', stableStringify(data), 'base64')
}

/**
 * `canonicalKey` of `data`, parsed from `text`; a record nested too deep for a recursive encoder (a poison pill) is
 * identified by its exact text instead, since one record must never stop a source (only such records get such keys).
 */
export function identityKey(data: unknown, text: string): string {
  try {
    return canonicalKey(data)
  } catch (err) {
    if (!(err instanceof RangeError)) throw err
    return hash('sha256', `\0raw\0${text}`, 'base64')
  }
}

/** The record's canonical key, computed from its text on first use and kept. */
export function recordKey(r: AuditRecord): string {
  if (r.key !== undefined) return r.key
  const text = recordText(r)
  return (r.key = identityKey(JSON.parse(text), text))
}

/** Drops the keys of records older than `horizon`: what bounds every key set to the overlap. */
export function evictBefore(keys: Map<string, Micros>, horizon: Micros): void {
  for (const [k, us] of keys) if (us < horizon) keys.delete(k)
}

/** A record the pipeline cannot place (no valid timestamp, stamped in the future…); kept with its reason, never silently dropped. */
export interface Rejected {
  reason: string
  record: unknown
  /** The record's text as the API sent it, when known (written to `.rejected` as is, never re-encoded). */
  text?: string
}

/**
 * Every way the API (or the archive) can break an assumption the tool relies on; each is counted per source, named in
 * the summary, the log and the metrics, and makes a completed run exit with EXIT_CODES.ANOMALY (README "What is
 * checked on every page").
 */
export type AnomalyKind =
  | 'pages-oldest-first' // a pass whose pages ran oldest first (handled: cut at the newest instant instead)
  | 'pages-out-of-order' // a pass whose records were in no order (handled: a cut pass is re-planned in pieces)
  | 'outside-bounds' // records outside the requested afterDate/beforeDate (beyond the one-unit widening)
  | 'full-page-without-token' // a full page ended the paging without a next token, and older records were found
  | 'repeated-token' // a page token came back again (the pass was fetched again)
  | 'no-progress' // pages in a row without a new record that still carry a token (the pass was fetched again)
  | 'endless' // paging that did not end within the hard page limit
  | 'request-budget' // the source made far more requests than the records it received justify
  | 'future-record' // a record stamped after now + --max-skew (to .rejected)
  | 'ancient-record' // a record stamped before the API's retention and the requested range (to .rejected)
  | 'future-resume' // archive records after now + --max-skew, ignored for the resume point
  | 'bad-day-file' // a day file whose name is no date, or a date after now + --max-skew (ignored)
  | 'deep-record' // a record nested deeper than MAX_DEPTH (kept as sent, identified by its text)
  | 'sealed-day-changed' // a sealed day file a backfill merges into no longer matched its seal (changed outside the tool)
  | 'large-record' // a record longer than the archive's line bound (to .rejected)
  | 'reencoded' // a record whose text could not be kept byte for byte (line breaks between tokens, no span)
  | 'replacement-character' // a record holding U+FFFD: most likely invalid UTF-8 from the API, decoded lossily
  | 'repeated-key-ignored' // the API read only the first of a filter's repeated keys (sources/probe.ts): the source stops
  | `filter-ignored:${'types' | 'includeUids' | 'excludeUids' | 'ip' | 'service'}` // records the filter should have excluded (dropped)

/** One fetched window [lo, hi): its records ascending by (instant, key), and what was rejected on the way. */
export interface WindowBatch {
  lo: Micros
  hi: Micros
  records: AuditRecord[]
  rejected: Rejected[]
}

/** The records of one window that fall on one day of the archive's zone, in order. */
export interface Segment {
  day: string
  records: AuditRecord[]
  first: Micros
  last: Micros
}

/** What a sink receives: one window's segments, its rejects and the window's bounds. */
export interface SinkChunk {
  lo: Micros
  hi: Micros
  segments: Segment[]
  rejected: Rejected[]
}

/** The seal chain of a source's archive after a run's commit (src/pipeline/seal.ts). */
export interface SealStats {
  /** Hash of the manifest's last entry (null while nothing is sealed): keep a copy outside the archive. */
  head: string | null
  entries: number
  /** Day files sealed for the first time, and resealed after this run changed them. */
  sealed: string[]
  resealed: string[]
}

/**
 * Everything one source's run counts, in one place: each stage adds what it fetched, dropped, wrote or repaired.
 * The summary and the metrics are snapshots of it.
 */
export class SourceStats {
  /** Page requests made, answered or not (retries not included). */
  pages = 0
  /** Records received from the API, repeats and out-of-window ones included. */
  fetched = 0
  /**
   * Records received that are fetched again by another pass: the oldest instant of a pass the page budget cut short
   * (re-read whole with the older part), or a whole pass thrown away (a paging loop, pages in no order).
   */
  refetched = 0
  /** Repeats of a record inside its own window (offset shifts while paging). */
  repeats = 0
  /** Records received outside their window (a neighbour's, from the bounds asked one unit wider), dropped there. */
  neighbours = 0
  /** Records the requested filters exclude, sent anyway (anomaly filter-ignored), dropped. */
  filtered = 0
  /** Records dropped because the archive (or the state file, or the merged day file) already held them. */
  duplicates = 0
  /** Records older than the archive's newest found in the overlap (late arrivals). */
  late = 0
  /** Records written (archive or stdout). */
  written = 0
  /** Records set aside with a reason (`.rejected`, or counted only in stdout mode). */
  rejected = 0
  /** Lines of the archive skipped while reading it (not JSON, no timestamp, too long). */
  corrupt = 0
  /** Torn tails moved to `.torn` at start-up. */
  repaired = 0
  /** Request retries (5xx, resets, timeouts, 429). */
  retries = 0
  /** reconcile: records the API returns that the archive lacked (written unless --dry-run). */
  missing = 0
  /** reconcile: archived records the API did not return, within its retention. */
  unconfirmed = 0
  /** reconcile: archived records the API did not return, older than its retention (the API forgot them). */
  beyondRetention = 0
  /** The re-check before sealing: days asked of the API again, late arrivals it found (and merged). */
  recheckedDays = 0
  recheckLate = 0
  /** The largest lateness of those: the archive's newest instant before the run minus the record's own instant (µs). */
  recheckMaxLateUs = 0
  /** Anomalies by kind (only kinds seen). */
  readonly anomalies = new Map<AnomalyKind, number>()
  /** Files written, in the order first written. */
  readonly files = new Set<string>()

  /**
   * Records received that no counter accounts for: 0 once a source has ended. Every record fetched is written, or a
   * duplicate, a repeat, refetched, rejected, a neighbour's or filtered (late arrivals are written).
   */
  get unaccounted(): number {
    return this.fetched - (this.written + this.duplicates + this.repeats + this.refetched + this.rejected + this.neighbours + this.filtered)
  }

  /** Oldest and newest instant written. */
  first: Micros | undefined
  last: Micros | undefined
  /** The seal chain after the commit (archive runs that seal). */
  seal: SealStats | undefined

  /** Counts `n` anomalies of `kind`. */
  anomaly(kind: AnomalyKind, n = 1): void {
    if (n > 0) this.anomalies.set(kind, (this.anomalies.get(kind) ?? 0) + n)
  }

  /** Counts one segment as written to `file` (undefined for stdout). */
  wrote(seg: Segment, file?: string): void {
    this.written += seg.records.length
    if (file !== undefined) this.files.add(file)
    this.first ??= seg.first
    this.last = seg.last
  }

  /** Counts one record as written to `file` (the merge keeps records one at a time). */
  wroteRecord(us: Micros, file: string): void {
    this.written++
    this.files.add(file)
    this.first ??= us
    this.last = us
  }
}
