/**
 * Checkpoint: the archive is the cursor. Resume point = timestamp of the last valid line of the newest non-empty file;
 * the dedupe seed = keys of archived records from the run's start on, read backwards from the end (into earlier day
 * files when the overlap crosses midnight). Torn tails are repaired first. Never reads whole files.
 * Sanity: a day file whose name is no date, or a day after now + max skew, is reported and ignored; records stamped
 * after now + max skew are skipped for the resume point (both counted as anomalies), so one bogus record can never
 * make every later run resume in the future and fetch nothing.
 */
import { dayNamer, isDayName, listArchive, type ArchiveFile, type ArchiveId } from '../archive/layout.js'
import { lineInstant, linesBackward } from '../archive/lines.js'
import { repairTail } from '../archive/tail.js'
import { openRead } from '../atomic.js'
import { Y360Error } from '../errors.js'
import type { Logger } from '../log.js'
import { identityKey, isObject, type InstantOf, type SourceStats } from '../messages.js'
import { sinkError } from '../sinks/file.js'
import { show, type Micros } from '../time.js'

export interface Checkpoint {
  /** Instant of the archive's last record (last valid line of the newest non-empty file); undefined when empty. */
  resume: Micros | undefined
  /**
   * Starts reading the dedupe seed: keys of archived records at or after `from`, backwards from the end. Runs while
   * the first requests are in flight (the Dedupe stage awaits it), so start-up does not wait for it.
   */
  seed(from: Micros): Promise<Map<string, Micros>>
}

export interface CheckpointOptions {
  archive: ArchiveId
  source: string
  instantOf: InstantOf
  overlapUs: Micros
  log: Logger
  /** Counts `repaired` tails and `corrupt` lines met while reading the seed, and the anomalies found. */
  stats: SourceStats
  /** Epoch-ms clock (default Date.now), the clock skew allowed (µs, default 5 minutes) and the archive's zone (default UTC). */
  now?: () => number
  maxSkewUs?: number
  zone?: string
}

/** The day files that can be trusted, newest first: impossible or future names reported, counted and skipped. */
async function trustedFiles(o: CheckpointOptions, latestUs: Micros): Promise<ArchiveFile[]> {
  const lastDay = dayNamer(o.zone ?? 'UTC')(latestUs)
  const files: ArchiveFile[] = []
  for (const f of (await listArchive(o.archive)).reverse()) {
    const real = isDayName(f.day)
    if (real && f.day <= lastDay) files.push(f) // same-length ISO dates: text order is date order
    else {
      o.stats.anomaly('bad-day-file')
      o.log.warn({ source: o.source, file: f.path }, `${o.source}: ${f.path} is named for ${real ? `a day after now + --max-skew (${lastDay})` : 'no real day'}; ignored for the resume point and the dedupe seed: move it away (anomaly bad-day-file)`)
    }
  }
  return files
}

/** Opens the checkpoint of one source's archive: repairs a torn tail and finds the resume point. */
export async function loadCheckpoint(o: CheckpointOptions): Promise<Checkpoint> {
  const latest = ((o.now ?? Date.now)() * 1000) + (o.maxSkewUs ?? 300_000_000)
  const files = await trustedFiles(o, latest) // newest first
  const repair = tailRepairer(o)
  let resume: Micros | undefined
  let checked = 0 // files whose tail was repaired already
  for (const f of files) {
    await repair(f.path)
    checked++
    resume = await lastInstant(f, o, latest)
    if (resume !== undefined) break
  }
  const seed = async (from: Micros): Promise<Map<string, Micros>> => {
    const keys = new Map<string, Micros>()
    // Late arrivals sit at most one overlap out of order: read one more overlap past `from` before stopping.
    const stop = from - o.overlapUs
    for (const [i, f] of files.entries()) {
      if (i >= checked) await repair(f.path)
      if (!(await seedFrom(f, o, from, stop, keys))) break
    }
    return keys
  }
  return { resume, seed }
}

/**
 * Repairs torn tails, counting and logging each one. A torn write is a line that is not a JSON object; a complete
 * object without a valid timestamp was written whole (and is skipped when read), so moving it away would lose it.
 */
function tailRepairer(o: CheckpointOptions): (path: string) => Promise<void> {
  const valid = (line: string): boolean => isJsonObject(line)
  return async (path) => {
    let torn
    try {
      torn = await repairTail(path, valid)
    } catch (err) {
      // A link or a FIFO on `<file>.torn`, a full disk: a write problem (exit 5) naming the path, not an internal fault.
      throw err instanceof Y360Error ? err : sinkError((err as NodeJS.ErrnoException).path ?? path, err, `the torn tail of ${path} was left in place`)
    }
    if (torn === undefined) return
    o.stats.repaired++
    o.log.warn({ source: o.source, file: path, bytes: torn.bytes, sidecar: torn.sidecar }, `${o.source}: torn last line of ${path} (${torn.bytes} bytes) moved to ${torn.sidecar}; it will be fetched again`)
  }
}

function isJsonObject(line: string): boolean {
  try {
    return isObject(JSON.parse(line))
  } catch {
    return false // not JSON: a torn write
  }
}

/** Instant of the last valid line of a file not after `latest` (empty files are skipped, as the Python script did). */
async function lastInstant(f: ArchiveFile, o: CheckpointOptions, latest: Micros): Promise<Micros | undefined> {
  const fh = await openRead(f.path)
  try {
    const size = (await fh.stat()).size
    for await (const line of linesBackward(fh, size)) {
      const rec = line.text === undefined || line.text.trim() === '' ? undefined : lineInstant(o.instantOf, line.text)
      if (rec === undefined) continue
      if (rec.us <= latest) return rec.us
      o.stats.anomaly('future-resume')
      o.log.warn({ source: o.source, file: f.path, offset: line.offset }, `${o.source}: the record at byte ${line.offset} of ${f.path} is stamped ${show(rec.us)}, after now + --max-skew; ignored for the resume point (anomaly future-resume)`)
    }
    return undefined
  } finally {
    await fh.close()
  }
}

/** Adds the keys of `f`'s records at or after `from` to `keys`, backwards; false once a record older than `stop` was met. */
async function seedFrom(f: ArchiveFile, o: CheckpointOptions, from: Micros, stop: Micros, keys: Map<string, Micros>): Promise<boolean> {
  const fh = await openRead(f.path)
  try {
    const size = (await fh.stat()).size
    for await (const line of linesBackward(fh, size)) {
      if (line.text !== undefined && line.text.trim() === '') continue
      const rec = lineInstant(o.instantOf, line.text)
      if (rec === undefined) {
        o.stats.corrupt++
        o.log.warn({ source: o.source, file: f.path, offset: line.offset }, `${o.source}: unreadable line at byte ${line.offset} of ${f.path}; skipped`)
        continue
      }
      if (rec.us < stop) return false
      if (rec.us >= from) keys.set(identityKey(rec.data, line.text as string), rec.us)
    }
    return true
  } finally {
    await fh.close()
  }
}
