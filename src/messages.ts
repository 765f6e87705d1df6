/**
 * What travels between the stages: the record and its identity, rejected records, window batches, sink chunks, and the
 * one stats object per source that every stage counts into. Neutral ground: sources, transforms, sinks and the
 * composer all import this module, and it imports nothing of theirs.
 */
import { hash } from 'node:crypto'
import stableStringify from 'fast-json-stable-stringify'
import type { Micros } from './time.js'

/**
 * One record as it travels through the pipeline: its instant, its content as compact JSON in the API's key order and,
 * once somebody needed it, its canonical identity (`recordKey`). Kept as one string, not a parsed object: a window
 * holds up to thousands of records across several page requests, and a flat string costs a fraction of an object tree
 * to keep and to collect. The key is computed lazily because two records can only be the same record when they share
 * an instant: most records never need it. `out` is the line to write when it differs from `line` (another line
 * format, a `_source` tag): the record and its encoded line travel together.
 */
export interface AuditRecord {
  us: Micros
  line: string
  key?: string
  out?: string
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

/** The record's canonical key, computed from its line on first use and kept. */
export function recordKey(r: AuditRecord): string {
  return (r.key ??= canonicalKey(JSON.parse(r.line)))
}

/** Drops the keys of records older than `horizon`: what bounds every key set to the overlap. */
export function evictBefore(keys: Map<string, Micros>, horizon: Micros): void {
  for (const [k, us] of keys) if (us < horizon) keys.delete(k)
}

/** A record the pipeline cannot place (no valid timestamp); kept with its reason, never silently dropped. */
export interface Rejected {
  reason: string
  record: unknown
}

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

/**
 * Everything one source's run counts, in one place: each stage adds what it fetched, dropped, wrote or repaired.
 * The summary and the metrics are snapshots of it.
 */
export class SourceStats {
  /** Page requests answered (retries not included). */
  pages = 0
  /** Records received from the API, repeats and out-of-window ones included. */
  fetched = 0
  /** Records received again in a pass the page budget cut short (fetched again by a narrower window). */
  refetched = 0
  /** Repeats of a record inside its own window (offset shifts while paging). */
  repeats = 0
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
  /** Files written, in the order first written. */
  readonly files = new Set<string>()
  /** Oldest and newest instant written. */
  first: Micros | undefined
  last: Micros | undefined

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
