/**
 * Sealing at commit (the archive output, locks held): which day files of a source are closed and complete, the
 * re-check hook run just before a day is first sealed, then one `sealDays` call (src/archive/manifest.ts) for the new
 * days and the sealed days this run changed. A day is closed when its end in --timezone is --seal-settle past, and
 * complete when the source's archive is known to reach past that end (ascending writes: a day before the newest
 * archived record is whole; a source that ended cleanly covered its whole range).
 */
import { basename } from 'node:path'
import type { KeyObject } from 'node:crypto'
import { dayBounds, listArchive, type ArchiveId } from '../archive/layout.js'
import { readChain, sealDays, type FileDigest } from '../archive/manifest.js'
import type { SourceConfig } from '../config.js'
import type { Logger } from '../log.js'
import type { SealStats, SourceStats } from '../messages.js'
import { ENDPOINTS } from '../sources/index.js'
import type { Micros } from '../time.js'
import type { Outcome } from './outcome.js'

/** What the re-check before sealing is given: one source's days about to be sealed for the first time, oldest first. */
export interface BeforeSealRequest {
  source: SourceConfig
  archive: ArchiveId
  days: readonly string[]
  stats: SourceStats
  log: Logger
  /** Throws LOCKED when the run lost the archive's lock (call before each write). */
  guard: () => void
  /** Newest instant the archive held before this run (its high-water mark), and where this run's range began. */
  resume: Micros | undefined
  fetchedFrom: Micros | undefined
}

/**
 * The hook called just before days are sealed (issue 16's re-check: ask the API for those days again and merge what
 * the archive lacks through the backfill merge). It may change the day files it is given; sealing reads them after.
 * Undefined: no re-check (--no-recheck; run.ts `recheckBeforeSeal` builds it otherwise).
 */
export type BeforeSeal = (req: BeforeSealRequest) => Promise<void>

/** How the archive output seals. */
export interface SealPolicy {
  zone: string
  settleMs: number
  tool: string
  key?: KeyObject
  now: () => number
  beforeSeal?: BeforeSeal
  /** Digests of day files read back while the run fetched (archive/early.ts): taken when the file is unchanged since. */
  early?: (path: string) => Promise<FileDigest | undefined>
}

/** Up to where (µs) the source's archive is known complete after this run. */
export function coveredUs(stats: SourceStats, o: Outcome | undefined): Micros {
  let covered = Math.max(o?.resume ?? -Infinity, stats.last ?? -Infinity)
  // A source that ended cleanly fetched its whole range: also the days without any record in it are complete.
  if (o?.ok === true && o.code === undefined && o.range !== undefined) covered = Math.max(covered, o.range.to)
  return covered
}

/** The days of `days` that are closed (end + settle passed) and complete (end not after `covered`). */
export function closedDays(days: readonly string[], policy: Pick<SealPolicy, 'zone' | 'settleMs'>, nowMs: number, covered: Micros): string[] {
  return days.filter((d) => {
    const { to } = dayBounds(policy.zone, d) // a local day lasts 23, 24 or 25 hours
    return to / 1000 + policy.settleMs <= nowMs && to <= covered
  })
}

/**
 * Seals one source: its closed, complete, unsealed days (after the re-check hook; not when `fresh` is false: an
 * interrupted run, nor when the API rate limited the source past --max-wait) and its sealed days this run wrote into
 * (a merge, a late arrival: resealed when they changed, also after a signal, since what the sinks finished is the
 * tool's own write). Days of archives the Python script wrote are
 * sealed as they are. Returns what the chain looks like afterwards.
 */
export async function sealSource(src: SourceConfig, archive: ArchiveId, stats: SourceStats, outcome: Outcome | undefined, policy: SealPolicy, log: Logger, guard: () => void, fresh = true): Promise<SealStats> {
  const files = await listArchive(archive)
  const chain = await readChain(archive)
  const written = new Set(stats.files)
  const unsealed = files.filter((f) => !chain.newest.has(basename(f.path))).map((f) => f.day)
  // A source the API rate limited for longer than --max-wait: the re-check would ask it again at once (and be refused);
  // its closed days are re-checked and sealed by the next run.
  const recheckRefused = policy.beforeSeal !== undefined && outcome?.code === 'RATE_LIMITED'
  const closed = fresh && !recheckRefused ? closedDays(unsealed, policy, policy.now(), coveredUs(stats, outcome)) : []
  // Sealed days this run wrote into, and days a run reopened (this one, or one that died before its reseal).
  const touched = files.filter((f) => { const e = chain.newest.get(basename(f.path)); return e !== undefined && (written.has(f.path) || e.kind === 'reopen') }).map((f) => f.day)
  if (closed.length > 0 && policy.beforeSeal !== undefined) {
    await policy.beforeSeal({ source: src, archive, days: closed, stats, log, guard, resume: outcome?.resume, fetchedFrom: outcome?.range?.from })
  }
  if (closed.length === 0 && touched.length === 0) return { head: chain.head ?? null, entries: chain.entries.length, sealed: [], resealed: [] }
  guard()
  const r = await sealDays({ archive, days: [...closed, ...touched], instantOf: ENDPOINTS[src.name].timestamp, tool: policy.tool, now: policy.now, key: policy.key, early: policy.early })
  if (r.torn !== undefined) log.warn({ source: src.name, file: r.torn.path }, `${src.name}: torn last line of ${r.torn.path} (${r.torn.bytes} bytes, an interrupted seal) moved to ${r.torn.sidecar}`)
  return {
    head: r.head ?? null,
    entries: r.entries,
    sealed: r.appended.filter((e) => e.kind === 'seal').map((e) => e.file),
    resealed: r.appended.filter((e) => e.kind === 'reseal').map((e) => e.file),
  }
}
