/**
 * The archive's layout on disk: one file per source and day, `<dir>/<base>_<YYYY-MM-DD>.<ext>`, days named in the
 * archive's zone, beside `<base>.rejected`, `<base>.manifest.jsonl` (the seals), `<file>.torn` sidecars and the marks. The only module that knows the names.
 */
import type { Dirent } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { DateTime } from '../dates.js'
import { Y360Error } from '../errors.js'
import type { Micros } from '../time.js'

/** Where one source's archive lives. */
export interface ArchiveId {
  dir: string
  base: string
  ext: string
}

export interface ArchiveFile {
  day: string
  path: string
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Path of the file for `day`. */
export function dayFile(a: ArchiveId, day: string): string {
  return join(a.dir, `${a.base}_${day}.${a.ext}`)
}

/** Path of the file of records set aside with their reason. */
export function rejectedFile(a: ArchiveId): string {
  return join(a.dir, `${a.base}.rejected`)
}

/** Path of the syslog forwarder's position in this archive (day file, byte offset). */
export function forwardStateFile(a: ArchiveId): string {
  return join(a.dir, `.${a.base}.syslog.json`)
}

/**
 * Path of the seal manifest of this archive (`<base>.manifest.jsonl`, format in manifest.ts). Never a day file's name
 * (those hold `_<YYYY-MM-DD>.` after the base), nor one of the Python script's (`get_audit_logs.log*`, day files).
 */
export function manifestFile(a: ArchiveId): string {
  return join(a.dir, `${a.base}.manifest.jsonl`)
}

/** Path of the sidecar a torn tail of `file` is moved to. */
export function tornFile(file: string): string {
  return `${file}.torn`
}

/** The archive's day files, oldest first (other files in the directory are ignored). */
export async function listArchive(a: ArchiveId): Promise<ArchiveFile[]> {
  const re = new RegExp(`^${escapeRe(a.base)}_(\\d{4}-\\d{2}-\\d{2})\\.${escapeRe(a.ext)}$`)
  let entries: Dirent[]
  try {
    entries = await readdir(a.dir, { withFileTypes: true })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw new Y360Error('SINK_WRITE', `cannot list the archive directory ${a.dir}: ${(err as Error).message}`, { path: a.dir }, { cause: err })
  }
  const files: ArchiveFile[] = []
  for (const e of entries) {
    const m = re.exec(e.name)
    if (m === null) continue
    const path = join(a.dir, e.name)
    // The tool appends to and repairs its day files: it never follows a link there, nor waits on a FIFO.
    if (!e.isFile()) throw new Y360Error('SINK_WRITE', `${path} is ${e.isSymbolicLink() ? 'a symbolic link' : e.isDirectory() ? 'a directory' : 'not a regular file'}; day files must be regular files (y360-audit never writes through links): move it away`, { path })
    files.push({ day: m[1], path })
  }
  return files.sort((x, y) => (x.day < y.day ? -1 : x.day > y.day ? 1 : 0))
}

const DAY_MS = 86_400_000

/**
 * The UTC day [start, end) in ms and its name, holding `ms`: plain arithmetic (a UTC day always lasts 24 hours).
 * Undefined outside years 0000-9999 (and for NaN), whose names luxon writes its own way.
 */
function utcDay(ms: number): { start: number; end: number; name: string } | undefined {
  if (!(ms >= MIN_DAY_MS && ms < MAX_DAY_MS)) return undefined
  const start = Math.floor(ms / DAY_MS) * DAY_MS
  return { start, end: start + DAY_MS, name: new Date(start).toISOString().slice(0, 10) }
}
const MIN_DAY_MS = Date.parse('0000-01-01T00:00:00Z')
const MAX_DAY_MS = Date.parse('9999-12-31T00:00:00Z') + DAY_MS

/**
 * Maps an instant to its local day `YYYY-MM-DD` in `zone`, caching the current day's bounds (DST-safe through luxon;
 * UTC, the default, by arithmetic: luxon cost ~0.3 ms a day switch cold, 60 of them in a 30-day first run).
 */
export function dayNamer(zone: string): (us: Micros) => string {
  let start = Infinity
  let end = -Infinity
  let name = ''
  return (us) => {
    const ms = Math.floor(us / 1000)
    if (ms < start || ms >= end) {
      const utc = zone === 'UTC' ? utcDay(ms) : undefined
      if (utc !== undefined) ({ start, end, name } = utc)
      else {
        const dt = DateTime.fromMillis(ms, { zone }).startOf('day')
        start = dt.toMillis()
        end = dt.plus({ days: 1 }).toMillis()
        name = dt.toISODate() as string
      }
    }
    return name
  }
}

/** True when `day` is a real calendar date `YYYY-MM-DD` (not `9999-99-99`, not `2025-02-30`). */
export function isDayName(day: string): boolean {
  const dt = DateTime.fromISO(day, { zone: 'UTC' })
  return dt.isValid && dt.toISODate() === day
}

/** Days whose bounds were worked out, by zone and day: a seal asks each day's several times, and luxon is slow cold. */
const bounds = new Map<string, Readonly<{ from: Micros; to: Micros }>>()
const BOUNDS_KEPT = 4096

/** The instants of local day `day` in `zone`: [from, to) in µs (DST-safe: a day may last 23 or 25 hours). */
export function dayBounds(zone: string, day: string): Readonly<{ from: Micros; to: Micros }> {
  const key = `${zone} ${day}`
  const known = bounds.get(key)
  if (known !== undefined) return known
  // The name must come back the same: 2025-02-30 is no day (luxon says so too, with NaN bounds).
  const utc = zone === 'UTC' && /^\d{4}-\d{2}-\d{2}$/.test(day) ? utcDay(Date.parse(`${day}T00:00:00Z`)) : undefined
  let b: { from: Micros; to: Micros }
  if (utc !== undefined && utc.name === day) b = { from: utc.start * 1000, to: utc.end * 1000 }
  else {
    const dt = DateTime.fromISO(day, { zone }).startOf('day')
    b = { from: dt.toMillis() * 1000, to: dt.plus({ days: 1 }).toMillis() * 1000 }
  }
  if (bounds.size >= BOUNDS_KEPT) bounds.clear()
  bounds.set(key, Object.freeze(b))
  return b
}
