/**
 * The reconcile output: the range asked of the API again is compared with the archive day by day (ReconcileSink), and
 * what the archive lacks is merged in through the archive output's own sink (the backfill merge). A sealed day it
 * changes is reopened (a manifest entry) just before its merged file replaces it, and resealed at commit (or by the
 * next run, if this one dies first): the archive output's seal rules. Days where nothing is missing get no entry. A
 * dry run takes the locks and checks the marks but writes nothing: no directory, mark, torn-tail repair, temp file or
 * manifest entry.
 */
import type { Writable } from 'node:stream'
import { basename } from 'node:path'
import { dayBounds, listArchive, type ArchiveFile, type ArchiveId } from '../../archive/layout.js'
import type { Config, SourceConfig } from '../../config.js'
import type { Logger } from '../../log.js'
import type { SourceStats } from '../../messages.js'
import { ENDPOINTS } from '../../sources/index.js'
import type { Micros } from '../../time.js'
import type { Outcome } from '../outcome.js'
import type { Output, SourceTarget } from '../output.js'
import type { BeforeSeal } from '../seal.js'
import { ReconcileSink, type DayReport, retentionStart } from '../reconcile-sink.js'
import { ArchiveOutput } from './archive.js'


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
   * (`repair`), and before the n-th merged day file replaces its day file, after its reopen (`rename`).
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
    this.#archive = new ArchiveOutput(cfg, log, now, { readOnly: opts.dryRun, lazyReopen: true, beforeSeal: opts.beforeSeal, tool: opts.tool })
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
        const repair = inner === undefined ? undefined : this.#repairSink(inner, range, src)
        const sink = new ReconcileSink({
          archive, instantOf: ep.timestamp, toleranceUs: cfg.overlapMs * 1000, range, files: filesInRange(all, cfg.timezone, range),
          retainedFrom: retentionStart(this.#now(), ep.retentionDays), repair, beforeRepair: (n) => this.#opts.pause?.('repair', n) ?? Promise.resolve(),
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

  /** The archive output's sink for the range (the backfill merge, or an append past the archive's end). */
  #repairSink(inner: SourceTarget, range: { from: Micros; to: Micros }, src: SourceConfig): Writable {
    const { sink } = inner.sink(range, { beforeRename: async ({ path }) => {
      await this.#opts.pause?.('rename', ++this.#renames)
      this.#log.info({ source: src.name, file: path }, `${src.name}: ${basename(path)} repaired`)
    } })
    return sink
  }

  quietEnd(): boolean {
    return false
  }

  /** Reseals the days it reopened and seals closed days, as every archive run does; nothing on a dry run. */
  async commit(clean: boolean, outcomes: readonly Outcome[]): Promise<void> {
    if (!this.#opts.dryRun) await this.#archive.commit(clean, outcomes)
  }

  close(): void {
    this.#archive.close()
  }
}
