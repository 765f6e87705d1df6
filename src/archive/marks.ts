/**
 * Archive marks, checked under the lock before any fetch. Filter marks: the archive is the checkpoint, so a filtered pull must never share an archive with an unfiltered one
 * (the unfiltered run would resume after records it never saw, and lose them for good). A filtered archive carries
 * `.<base>.filters.json` beside its day files naming its filters; runs whose filters differ from the mark are refused.
 * Zone marks: `.<base>.zone.json` names the zone whose local days name a non-UTC archive's files (checkZoneMark).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import stableStringify from 'fast-json-stable-stringify'
import type { ArchiveId } from './layout.js'

/** The filters a pull was made with (the tool's own vocabulary; see sources/descriptor.ts). */
export type MarkFilters = Readonly<Record<string, unknown>>

/** Path of the filter mark of an archive. */
export function filterMarkPath(a: ArchiveId): string {
  return join(a.dir, `.${a.base}.filters.json`)
}

function hasDayFiles(a: ArchiveId): boolean {
  const prefix = `${a.base}_`
  const suffix = `.${a.ext}`
  try {
    return readdirSync(a.dir).some((n) => n.startsWith(prefix) && n.endsWith(suffix) && /^\d{4}-\d{2}-\d{2}$/.test(n.slice(prefix.length, -suffix.length)))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

/**
 * Checks `filters` (empty = unfiltered) against the archive's mark. Returns a problem to report, or a `write` that
 * marks a new filtered archive (call it once the whole configuration is valid).
 */
export function checkFilterMark(a: ArchiveId, source: string, filters: MarkFilters): { problem?: string; write?: () => void } {
  const wanted = Object.keys(filters).length === 0 ? undefined : stableStringify(filters)
  let marked: string | undefined
  try {
    marked = stableStringify(JSON.parse(readFileSync(filterMarkPath(a), 'utf8')))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return { problem: `cannot read ${filterMarkPath(a)}: ${(err as Error).message}` }
  }
  const where = `${join(a.dir, a.base)}_*.${a.ext}`
  if (marked === wanted) return {}
  if (marked !== undefined && wanted === undefined) {
    return { problem: `${where} is a filtered ${source} archive (${marked}); an unfiltered run must use its own directory or base name (the archive is the checkpoint)` }
  }
  if (marked !== undefined) {
    return { problem: `${where} holds the ${source} records filtered by ${marked}, not ${wanted}; use another directory or base name for these filters (the archive is the checkpoint)` }
  }
  if (hasDayFiles(a)) {
    return { problem: `${where} is an unfiltered ${source} archive; a filtered run must write to its own directory or base name (the archive is the checkpoint: the next unfiltered run would skip what this one filtered out)` }
  }
  return { write: () => writeFileSync(filterMarkPath(a), `${wanted}\n`, { mode: 0o640, flag: 'wx' }) }
}

/** Path of the time-zone mark of an archive. */
export function zoneMarkPath(a: ArchiveId): string {
  return join(a.dir, `.${a.base}.zone.json`)
}

/** Names of UTC, which all cut days at the same instants. */
const UTC_NAMES = new Set(['UTC', 'Etc/UTC', 'UCT', 'Etc/UCT', 'Universal', 'Etc/Universal', 'Zulu', 'Etc/Zulu', 'GMT', 'Etc/GMT', 'GMT0', 'Etc/GMT0', 'GMT+0', 'Etc/GMT+0', 'GMT-0', 'Etc/GMT-0', 'Greenwich', 'Etc/Greenwich'])
const sameZone = (a: string, b: string): boolean => a === b || (UTC_NAMES.has(a) && UTC_NAMES.has(b))

/**
 * Checks `zone` (the --timezone whose local days name the files) against the archive's zone mark. Day files cut in one
 * zone and appended in another would land on other day boundaries, and verify would then fail in either zone, so a
 * run or a verify in another zone is refused. An archive without a mark but with day files is UTC (the Python script
 * wrote UTC days); only non-UTC archives carry a mark, so UTC archives look exactly as before. Returns a problem, or a
 * `write` that marks a new non-UTC archive (call it under the lock, once the whole configuration is valid).
 */
export function checkZoneMark(a: ArchiveId, source: string, zone: string): { problem?: string; write?: () => void } {
  let marked: string | undefined
  try {
    const doc = JSON.parse(readFileSync(zoneMarkPath(a), 'utf8')) as { zone?: unknown }
    if (typeof doc.zone !== 'string') return { problem: `${zoneMarkPath(a)} names no zone ({"zone":"<IANA zone>"} expected); fix or remove it` }
    marked = doc.zone
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return { problem: `cannot read ${zoneMarkPath(a)}: ${(err as Error).message}` }
  }
  const where = `${join(a.dir, a.base)}_*.${a.ext}`
  const found = marked ?? (hasDayFiles(a) ? 'UTC' : undefined)
  if (found !== undefined && !sameZone(found, zone)) {
    const why = marked === undefined ? ' (it has no zone mark: taken as UTC, as the Python script wrote)' : ` (${zoneMarkPath(a)})`
    return { problem: `${where} is a ${source} archive of ${found} days${why}, not ${zone}: files of another zone would cut days at other instants; pass --timezone ${found}, or use another directory or base name for ${zone}` }
  }
  if (found === undefined && !UTC_NAMES.has(zone)) return { write: () => writeFileSync(zoneMarkPath(a), `${JSON.stringify({ zone })}\n`, { mode: 0o640, flag: 'wx' }) }
  return {}
}
