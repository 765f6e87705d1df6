/**
 * The re-check before a day is sealed: the day is asked of the API again (that source, the archive's zone and
 * filters), compared with its day file by record identity, and what the file lacks (late arrivals: records that
 * reached the API after the runs that covered their time) is merged in through the backfill merge, so the file stays
 * ascending and exact before its seal fixes it. Costs one more day of requests per sealed day that earlier runs
 * fetched part of: in steady operation, every day (--no-recheck: none).
 *
 * How late a late arrival was: the archive's high-water mark before this run (the newest record it held) minus the
 * record's own instant, i.e. how far behind the front of the archive it turned up. An --overlap (or seal settle time)
 * at least this large would have caught it in the normal run. 0 when the record is newer than that mark.
 */
import { dayBounds, dayFile, listArchive, type ArchiveId } from '../archive/layout.js'
import { lineInstant, linesForward } from '../archive/lines.js'
import type { InstantOf } from '../messages.js'
import type { Scrub } from '../secrets.js'
import { MergingFileSink } from '../sinks/merge.js'
import { ENDPOINTS } from '../sources/index.js'
import { showDuration, type Micros } from '../time.js'
import type { Refetch } from './output.js'
import { ReconcileSink, retentionStart } from './reconcile-sink.js'
import type { BeforeSealRequest } from './seal.js'

/** One source's days about to be sealed, and how to write into its archive: what the seal hook is given. */
export type RecheckRequest = BeforeSealRequest

/** What the re-check needs from the run: the API, the archive's zone and overlap, the scrubber for `.rejected`, the clock. */
export interface RecheckDeps {
  refetch: Refetch
  zone: string
  overlapMs: number
  scrub: Scrub
  now: () => number
}


/**
 * Re-checks each day of `req` (oldest first) that earlier runs fetched part of, merging its late arrivals; counts into
 * req.stats (recheckedDays, recheckLate, recheckMaxLateUs). A day this run fetched whole (a first run, a backfill) was
 * fetched after its end plus the settle time already: asking again at once would only repeat it.
 */
export async function recheckDays(deps: RecheckDeps, req: RecheckRequest): Promise<void> {
  const fetchedFrom = req.fetchedFrom
  for (const day of req.days) {
    if (fetchedFrom !== undefined && dayBounds(deps.zone, day).from >= fetchedFrom) continue
    await recheckDay(deps, req, day)
  }
}

/**
 * The part of `day` the archive covers: the whole day, but for its oldest day file, from that file's first record on
 * (a first run or a backfill may have begun in the middle of the day: what is older was never the archive's to hold).
 */
async function coveredPart(deps: RecheckDeps, archive: ArchiveId, instantOf: InstantOf, day: string): Promise<{ from: Micros; to: Micros }> {
  const range = dayBounds(deps.zone, day)
  const oldest = (await listArchive(archive))[0]
  if (oldest === undefined || oldest.day !== day) return range
  for await (const { text } of linesForward(oldest.path)) {
    const rec = lineInstant(instantOf, text)
    if (rec !== undefined) return { from: Math.max(range.from, rec.us), to: range.to }
  }
  return { from: range.to, to: range.to } // no record in it: nothing to compare
}

async function recheckDay(deps: RecheckDeps, req: RecheckRequest, day: string): Promise<void> {
  const { source: src, archive, stats, log } = req
  const ep = ENDPOINTS[src.name]
  const range = await coveredPart(deps, archive, ep.timestamp, day)
  if (range.from >= range.to) return
  const toleranceUs = deps.overlapMs * 1000
  const highWater = req.resume
  let late = 0
  let maxLateUs: Micros = 0
  const repair = new MergingFileSink({ archive, source: src.name, instantOf: ep.timestamp, toleranceUs, log, stats, guard: req.guard, scrub: deps.scrub })
  const sink = new ReconcileSink({
    archive, instantOf: ep.timestamp, toleranceUs, range, files: [{ day, path: dayFile(archive, day) }],
    retainedFrom: retentionStart(deps.now(), ep.retentionDays), repair,
    onDay: (r) => log.debug({ source: src.name, ...r }, `${src.name}: re-check of ${r.day}: ${r.archived} archived, ${r.api} from the API, ${r.missing} missing, ${r.unconfirmed} not returned by the API`),
    onMissing: (r) => {
      late++
      if (highWater !== undefined && highWater - r.us > maxLateUs) maxLateUs = highWater - r.us
    },
  })
  await deps.refetch(src, range, sink, stats)
  stats.recheckedDays++
  stats.recheckLate += late
  if (maxLateUs > stats.recheckMaxLateUs) stats.recheckMaxLateUs = maxLateUs
  if (late > 0) log.warn({ source: src.name, day, late, maxLateMs: Math.round(maxLateUs / 1000) }, `${src.name}: re-check of ${day} before sealing found ${late} late arrival(s), merged in; the latest turned up ${showDuration(Math.round(maxLateUs / 1000))} behind the archive's newest record (a larger --overlap would have caught it)`)
  else log.debug({ source: src.name, day }, `${src.name}: re-check of ${day} before sealing: nothing missing`)
}
