/**
 * The archive output: day files per source. open(): creates the directories, takes each directory's lock, then checks
 * (and writes) the filter and zone marks under the lock. Each source resumes from its archive's tail (Checkpoint) and writes
 * through a RotatingFileSink, or, for a --since range that reaches into the archive, a MergingFileSink.
 */
import { readdir, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { TEMP_NAME } from '../../atomic.js'
import type { Config, SourceConfig } from '../../config.js'
import { checkFilterMark, checkZoneMark } from '../../archive/marks.js'
import type { ArchiveId } from '../../archive/layout.js'
import { Y360Error } from '../../errors.js'
import type { Logger } from '../../log.js'
import type { SourceStats } from '../../messages.js'
import { prepareDir } from '../../prepare.js'
import { MergingFileSink } from '../../sinks/merge.js'
import { RotatingFileSink } from '../../sinks/file.js'
import { ENDPOINTS } from '../../sources/index.js'
import { scrubber, type Scrub } from '../../secrets.js'
import { show } from '../../time.js'
import { loadCheckpoint } from '../checkpoint.js'
import { DirLock } from '../lock.js'
import type { Output, OutputMode, SourceTarget } from '../output.js'

/** Merge temp files of versions before unpredictable temp names. */
const OLD_MERGE_TEMP = /^\..+\.merge-\d+\.tmp$/

export class ArchiveOutput implements Output {
  readonly mode: OutputMode
  readonly #cfg: Config
  readonly #scrub: Scrub
  readonly #log: Logger
  readonly #now: () => number
  readonly #locks = new Map<string, DirLock>()
  readonly #readOnly: boolean

  /** `readOnly` (reconcile --dry-run): open() takes the locks and checks the marks but creates and removes nothing. */
  constructor(cfg: Config, log: Logger, now: () => number, opts: { readOnly?: boolean } = {}) {
    this.#scrub = scrubber([cfg.token])
    this.#cfg = cfg
    this.#log = log
    this.#now = now
    this.#readOnly = opts.readOnly === true
    this.mode = cfg.since !== undefined ? 'backfill' : 'append'
  }

  /** Throws LOCKED when this run no longer holds the lock of `src`'s directory (call before each write). */
  checkLock(src: SourceConfig): void {
    this.#locks.get(src.dir)?.check()
  }

  #archive(src: SourceConfig): ArchiveId {
    return { dir: src.dir, base: src.base, ext: this.#cfg.ext }
  }

  async open(): Promise<void> {
    const problems: string[] = []
    for (const src of this.#readOnly ? [] : this.#cfg.sources) {
      const r = prepareDir(src.dir, `the ${src.name} directory (--${src.name}-dir)`)
      if (r.problem !== undefined) problems.push(r.problem)
      if (r.created) this.#log.info({ dir: src.dir }, `created directory ${src.dir}`)
    }
    if (problems.length > 0) throw configProblems(problems)
    for (const dir of new Set(this.#cfg.sources.map((s) => s.dir))) this.#locks.set(dir, DirLock.acquire(dir, this.#log, { now: this.#now, staleMs: this.#cfg.lockStaleMs }))
    // The archive is the checkpoint: a filtered pull must not share an archive with an unfiltered one (see marks.ts).
    // Checked under the lock, for every source before any of them fetches.
    const writes: (() => void)[] = []
    for (const src of this.#cfg.sources) {
      const mark = checkFilterMark(this.#archive(src), src.name, this.#cfg.filters)
      if (mark.problem !== undefined) problems.push(mark.problem)
      if (mark.write !== undefined) writes.push(mark.write)
      // The zone too: day files cut in one zone must not be appended to in another (see marks.ts).
      const zone = checkZoneMark(this.#archive(src), src.name, this.#cfg.timezone)
      if (zone.problem !== undefined) problems.push(zone.problem)
      if (zone.write !== undefined) writes.push(zone.write)
    }
    if (problems.length > 0) throw configProblems(problems)
    if (this.#readOnly) return
    for (const write of writes) write()
    for (const src of this.#cfg.sources) await this.#removeStaleTemps(src)
  }

  /** Temp files of merges that died (SIGKILL, power loss): under the lock no other run is merging, so they are junk. */
  async #removeStaleTemps(src: SourceConfig): Promise<void> {
    const prefix = `.${src.base}_`
    for (const name of await readdir(src.dir)) {
      if (!name.startsWith(prefix) || !(TEMP_NAME.test(name) || OLD_MERGE_TEMP.test(name))) continue
      await unlink(join(src.dir, name))
      this.#log.info({ source: src.name, file: name }, `${src.name}: removed ${join(src.dir, name)}, left by a run that died while merging (its day file is as it was)`)
    }
  }

  async source(src: SourceConfig, stats: SourceStats): Promise<SourceTarget> {
    const cfg = this.#cfg
    const log = this.#log
    const ep = ENDPOINTS[src.name]
    const archive = this.#archive(src)
    const overlapUs = cfg.overlapMs * 1000
    const cp = await loadCheckpoint({ archive, source: src.name, instantOf: ep.timestamp, overlapUs, log, stats, now: this.#now, maxSkewUs: cfg.maxSkewMs * 1000, zone: cfg.timezone })
    const mode = this.mode
    const lock = this.#locks.get(src.dir) as DirLock
    const guard = (): void => lock.check()
    return {
      resume: cp.resume,
      where: 'archive',
      seed: (from) => cp.seed(from),
      sink: ({ from }, opts = {}) => {
        if (mode === 'backfill' && cp.resume !== undefined && from > cp.resume + overlapUs) {
          log.warn({ source: src.name }, `${src.name}: --since ${show(from)} is after the archive's newest record ${show(cp.resume)}: records between them are not fetched now, and later runs resume after the newest archived record, so they stay missing; run a backfill --since ${show(cp.resume)} to close the gap`)
        }
        // A range wholly after the archive (or into an empty one) appends like any run: nothing to merge with.
        if (mode === 'backfill' && cp.resume !== undefined && from <= cp.resume) {
          return { mode, sink: new MergingFileSink({ archive, source: src.name, instantOf: ep.timestamp, toleranceUs: overlapUs, log, stats, guard, scrub: this.#scrub, afterCommit: opts.afterCommit }) }
        }
        return { mode: 'append', sink: new RotatingFileSink(archive, src.name, stats, guard, this.#scrub) }
      },
    }
  }

  quietEnd(): boolean {
    return false
  }

  async commit(): Promise<void> {
    // The archive is the checkpoint: what the sinks synced is the position.
  }

  close(): void {
    for (const l of this.#locks.values()) l.release()
    this.#locks.clear()
  }
}

function configProblems(problems: string[]): Y360Error {
  return new Y360Error('CONFIG_INVALID', `configuration problems:\n${problems.map((p) => `  - ${p}`).join('\n')}`, { problems })
}
