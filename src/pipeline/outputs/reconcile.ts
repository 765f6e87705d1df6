/**
 * The reconcile output: the range asked of the API again is compared with the archive day by day (ReconcileSink), and
 * what the archive lacks is merged in through the archive output's own sink (the backfill merge). A sealed day it
 * changes is resealed from the merged temp file just before that file replaces the day file (`resealMerged`), so a
 * crash leaves either the old file under its old seal, or the new seal with the old file, which the rerun's identical
 * merge then puts in place. At commit the archive output seals as every archive run does (closed days, with the
 * re-check). A dry run takes the locks and checks the marks but writes nothing: no directory, mark, torn-tail repair,
 * temp file or manifest entry.
 */
import type { Writable } from 'node:stream'
import { basename } from 'node:path'
import type { KeyObject } from 'node:crypto'
import { dayBounds, dayFile, listArchive, type ArchiveFile, type ArchiveId } from '../../archive/layout.js'
import { digestFile, readChain, sealDays } from '../../archive/manifest.js'
import type { Config, SourceConfig } from '../../config.js'
import { Y360Error } from '../../errors.js'
import type { Logger } from '../../log.js'
import type { InstantOf, SourceStats } from '../../messages.js'
import { ENDPOINTS } from '../../sources/index.js'
import type { Micros } from '../../time.js'
import type { Outcome } from '../outcome.js'
import type { Output, SourceTarget } from '../output.js'
import type { BeforeSeal } from '../seal.js'
import { ReconcileSink, type DayReport } from '../reconcile-sink.js'
import { ArchiveOutput } from './archive.js'

const DAY_US = 86_400_000_000

/** What reconcile found for one source: the days compared (ascending), and the days whose file it changed. */
export interface SourceReconcile {
  source: string
  days: DayReport[]
  changed: string[]
}

export interface ReconcileOptions {
  dryRun: boolean
  /**
   * Test seam (Y360_TEST_RECONCILE_PAUSE): awaited before the n-th batch of missing records (from 1) goes to the merge
   * (`repair`), and before the n-th merged day file replaces its day file, after its reseal (`rename`).
   */
  pause?: (point: 'repair' | 'rename', n: number) => Promise<void>
}

/** The day files of `files` whose day meets [from, to). */
export function filesInRange(files: readonly ArchiveFile[], zone: string, range: { from: Micros; to: Micros }): ArchiveFile[] {
  return files.filter((f) => {
    const b = dayBounds(zone, f.day)
    return b.to > range.from && b.from < range.to
  })
}

export class ReconcileOutput implements Output {
  readonly mode = 'reconcile' as const
  readonly results = new Map<string, SourceReconcile>()
  readonly #cfg: Config
  readonly #log: Logger
  readonly #now: () => number
  readonly #opts: ReconcileOptions
  readonly #archive: ArchiveOutput
  #renames = 0

  /** `beforeSeal`, `tool`: as for the archive output, which seals the closed days at commit. */
  constructor(cfg: Config, log: Logger, now: () => number, opts: ReconcileOptions & { beforeSeal?: BeforeSeal; tool?: string }) {
    this.#cfg = cfg
    this.#log = log
    this.#now = now
    this.#opts = opts
    this.#archive = new ArchiveOutput(cfg, log, now, { readOnly: opts.dryRun, beforeSeal: opts.beforeSeal, tool: opts.tool })
  }

  open(): Promise<void> {
    return this.#archive.open()
  }

  async source(src: SourceConfig, stats: SourceStats): Promise<SourceTarget> {
    const cfg = this.#cfg
    const ep = ENDPOINTS[src.name]
    const archive: ArchiveId = { dir: src.dir, base: src.base, ext: cfg.ext }
    const result: SourceReconcile = { source: src.name, days: [], changed: [] }
    this.results.set(src.name, result)
    // Not on a dry run: reading the checkpoint repairs a torn tail (a write).
    const inner = this.#opts.dryRun ? undefined : await this.#archive.source(src, stats)
    const all = await listArchive(archive)
    return {
      resume: undefined,
      where: 'archive',
      seed: () => new Map(),
      sink: (range) => {
        const repair = inner === undefined ? undefined : this.#repairSink(inner, range, src, archive, result)
        const sink = new ReconcileSink({
          archive, instantOf: ep.timestamp, toleranceUs: cfg.overlapMs * 1000, range, files: filesInRange(all, cfg.timezone, range),
          retainedFrom: this.#now() * 1000 - ep.retentionDays * DAY_US, repair, beforeRepair: (n) => this.#opts.pause?.('repair', n) ?? Promise.resolve(),
          onDay: (r) => {
            result.days.push(r)
            if (repair !== undefined && r.missing > 0) result.changed.push(r.day)
            stats.missing += r.missing
            stats.unconfirmed += r.unconfirmed
            stats.beyondRetention += r.beyondRetention
          },
        })
        return { mode: 'reconcile', sink }
      },
    }
  }

  /** The archive output's sink for the range (the backfill merge, or an append past the archive's end), resealing each sealed day it merges. */
  #repairSink(inner: SourceTarget, range: { from: Micros; to: Micros }, src: SourceConfig, archive: ArchiveId, result: SourceReconcile): Writable {
    const { sink } = inner.sink(range, { beforeRename: async ({ tmp, path, day }) => {
      this.#archive.checkLock(src)
      const sealing = this.#archive.sealing()
      const resealed = sealing !== undefined && (await resealMerged({ archive, instantOf: ENDPOINTS[src.name].timestamp, day, tmp, now: this.#now, ...sealing }))
      await this.#opts.pause?.('rename', ++this.#renames)
      this.#log.info({ source: src.name, file: path, resealed }, `${src.name}: ${basename(path)} repaired${resealed ? ' and resealed' : ''}`)
    } })
    return sink
  }

  quietEnd(): boolean {
    return false
  }

  /**
   * Seals as every archive run does; not on a dry run (nothing is written), nor after a source failed: the archive
   * output would reseal the day files its merges counted as written, also one whose merge was refused because the file
   * no longer matched its seal (the next archive run seals the closed days).
   */
  async commit(clean: boolean, outcomes: readonly Outcome[]): Promise<void> {
    if (this.#opts.dryRun) return
    if (outcomes.some((o) => !o.ok)) {
      this.#log.info({}, 'reconcile: no day sealed at the end, a source failed; the next archive run seals the closed days')
      return
    }
    await this.#archive.commit(clean, outcomes)
  }

  close(): void {
    this.#archive.close()
  }
}

/**
 * Appends a `reseal` entry for a sealed day whose merged file `tmp` is about to replace its day file (measured from
 * `tmp`); a day not sealed yet is left to the seal at commit. Returns whether an entry was appended. Lock held.
 * Throws ARCHIVE_DAMAGED, and the day file stays as it was, when the day file no longer matches its seal: resealing
 * would cover a change made outside the tool. (Matching the entry before a newest `reseal` is the state a reconcile
 * killed between its reseal and its rename leaves, and is completed.)
 */
export async function resealMerged(o: { archive: ArchiveId; instantOf: InstantOf; day: string; tmp: string; now: () => number; key: KeyObject | undefined; tool: string }): Promise<boolean> {
  const chain = await readChain(o.archive)
  const path = dayFile(o.archive, o.day)
  const file = basename(path)
  const newest = chain.newest.get(file)
  if (newest === undefined) return false
  const now = await digestFile(path, o.instantOf)
  const before = newest.kind === 'reseal' ? chain.entries.filter((e) => e.file === file).at(-2) : undefined
  const matches = (e: { sha256: string; bytes: number } | undefined): boolean => e !== undefined && e.sha256 === now.sha256 && e.bytes === now.bytes
  if (!matches(newest) && !matches(before)) {
    throw new Y360Error('ARCHIVE_DAMAGED', `${path} no longer matches its seal (manifest line ${newest.lineNo}): it was changed outside the tool; reconcile does not merge into it, since a new seal would cover that change. Run y360-audit verify, restore the file, and reconcile again`, { path })
  }
  const r = await sealDays({ archive: o.archive, days: [o.day], measure: { [o.day]: o.tmp }, instantOf: o.instantOf, tool: o.tool, now: o.now, key: o.key })
  return r.appended.length > 0
}
