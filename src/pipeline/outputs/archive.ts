/**
 * The archive output: day files per source. open(): creates the directories, takes each directory's lock, then checks
 * (and writes) the filter and zone marks under the lock. Each source resumes from its archive's tail (Checkpoint) and writes
 * through a RotatingFileSink, or, for a --since range that reaches into the archive, a MergingFileSink. commit() seals
 * each source's closed days under the locks (src/pipeline/seal.ts), after the re-check hook.
 */
import type { KeyObject } from 'node:crypto'
import { readdir, unlink } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { TEMP_NAME } from '../../atomic.js'
import type { Config, SourceConfig } from '../../config.js'
import { checkFilterMark, checkZoneMark } from '../../archive/marks.js'
import { EarlyDigests } from '../../archive/early.js'
import { dayFile, dayNamer, listArchive, type ArchiveId } from '../../archive/layout.js'
import { loadSealKey, readChain, reopenDays } from '../../archive/manifest.js'
import { Y360Error } from '../../errors.js'
import type { Logger } from '../../log.js'
import type { SealStats, SourceStats } from '../../messages.js'
import { prepareDir } from '../../prepare.js'
import { MergingFileSink, type BeforeRename } from '../../sinks/merge.js'
import { RotatingFileSink } from '../../sinks/file.js'
import { ENDPOINTS } from '../../sources/index.js'
import { scrubber, type Scrub } from '../../secrets.js'
import { show } from '../../time.js'
import { loadCheckpoint } from '../checkpoint.js'
import { DirLock } from '../lock.js'
import type { Outcome } from '../outcome.js'
import type { Output, OutputMode, SourceTarget } from '../output.js'
import { sealSource, type BeforeSeal, type SealPolicy } from '../seal.js'

/** Merge temp files of versions before unpredictable temp names. */
const OLD_MERGE_TEMP = /^\..+\.merge-\d+\.tmp$/

export class ArchiveOutput implements Output {
  readonly mode: OutputMode
  readonly #cfg: Config
  readonly #scrub: Scrub
  readonly #log: Logger
  readonly #now: () => number
  readonly #locks = new Map<string, DirLock>()
  readonly #stats = new Map<string, SourceStats>()
  readonly #beforeSeal: BeforeSeal | undefined
  #sealKey: KeyObject | undefined
  readonly #tool: string
  readonly #readOnly: boolean
  readonly #lazyReopen: boolean
  /** Day files read back while the run fetches, for the seal (archive/early.ts); none under --no-seal. */
  readonly #early: EarlyDigests | undefined

  /**
   * `beforeSeal`: the re-check run just before days are first sealed (src/pipeline/seal.ts); `tool` names the tool in
   * seals; `readOnly` (reconcile --dry-run): open() takes the locks and checks the marks but creates and removes nothing;
   * `lazyReopen` (reconcile): a merge reopens a sealed day just before its merged file replaces it, not every sealed day
   * of the range up front (reconcile changes only the days that lack records).
   */
  constructor(cfg: Config, log: Logger, now: () => number, opts: { beforeSeal?: BeforeSeal; tool?: string; readOnly?: boolean; lazyReopen?: boolean } = {}) {
    this.#scrub = scrubber([cfg.token])
    this.#cfg = cfg
    this.#log = log
    this.#now = now
    this.#beforeSeal = opts.beforeSeal
    this.#tool = opts.tool ?? 'y360-audit'
    this.#readOnly = opts.readOnly === true
    this.#lazyReopen = opts.lazyReopen === true
    this.#early = cfg.seal ? new EarlyDigests() : undefined
    this.mode = cfg.since !== undefined ? 'backfill' : 'append'
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
    // Also under --no-seal: the entries that reopen and reseal days this run changes are signed too.
    if (this.#cfg.sealKey !== undefined) this.#sealKey = this.#loadKey(this.#cfg.sealKey)
    if (this.#readOnly) return
    for (const write of writes) write()
    for (const src of this.#cfg.sources) await this.#removeStaleTemps(src)
  }

  /** The --seal-key (config already judged it; read again here, the file may have changed since). */
  #loadKey(path: string): KeyObject {
    const r = loadSealKey(path)
    if (r.key === undefined) throw configProblems([r.problem ?? `cannot read ${path}`])
    if (r.warning !== undefined) this.#log.warn({ file: path }, r.warning)
    return r.key
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
    this.#stats.set(src.name, stats)
    // A backfill may merge into any day of its range: sealed ones are reopened before it starts (see #reopen).
    if (mode === 'backfill' && cfg.since !== undefined && !this.#lazyReopen) {
      const dayOf = dayNamer(cfg.timezone)
      const [first, last] = [dayOf(cfg.since), dayOf(Math.min(cfg.until ?? Infinity, this.#now() * 1000) - 1)] // until is exclusive
      await this.#reopen(src, stats, (await listArchive(archive)).filter((f) => f.day >= first && f.day <= last).map((f) => f.day))
    }
    // An append reopens a sealed day only when it is about to write into it (a late arrival into a closed day).
    const sealed = new Set((await readChain(archive)).newest.keys())
    const opening = async (day: string): Promise<void> => {
      if (sealed.delete(basename(dayFile(archive, day)))) await this.#reopen(src, stats, [day])
    }
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
          const hook = opts.beforeRename
          const beforeRename: BeforeRename | undefined = this.#lazyReopen ? async (d) => { await opening(d.day); await hook?.(d) } : hook
          return { mode, sink: new MergingFileSink({ archive, source: src.name, instantOf: ep.timestamp, toleranceUs: overlapUs, log, stats, guard, scrub: this.#scrub, beforeRename }) }
        }
        const early = this.#early
        return { mode: 'append', sink: new RotatingFileSink(archive, src.name, stats, guard, this.#scrub, opening, early && ((path) => early.start(path, ep.timestamp))) }
      },
    }
  }

  /**
   * Reopens the sealed days of `days` before this run writes into them (a `reopen` entry each, synced; commit reseals
   * them), also under --no-seal: the manifest records every change the tool makes to a sealed day. One that no longer
   * matched its seal was changed outside the tool: the write repairs or extends it and the reseal records the new
   * content (the earlier entries stay), so each is named now, as an anomaly (exit 8), while the evidence is on disk.
   */
  async #reopen(src: SourceConfig, stats: SourceStats, days: readonly string[]): Promise<void> {
    if (days.length === 0) return
    const lock = this.#locks.get(src.dir) as DirLock
    lock.check()
    const r = await reopenDays({ archive: this.#archive(src), days, instantOf: ENDPOINTS[src.name].timestamp, tool: this.#tool, now: this.#now, key: this.#sealKey })
    if (r.appended.length > 0) this.#log.info({ source: src.name, reopened: r.appended.map((e) => e.file) }, `${src.name}: reopened sealed ${r.appended.map((e) => e.file).join(', ')} to write into them (resealed at the end of the run)`)
    for (const p of r.changed) {
      stats.anomaly('sealed-day-changed')
      this.#log.warn({ source: src.name, file: p.file, kind: p.kind }, `${src.name}: ${p.file} no longer matches its seal (${p.kind}: ${p.detail}): it was changed outside the tool; this run writes into it and reseals it (the manifest keeps the earlier entries)`)
    }
  }

  quietEnd(): boolean {
    return false
  }

  /** The archive is the checkpoint (what the sinks synced is the position); seals each source's closed days, locks held. */
  async commit(clean: boolean, outcomes: readonly Outcome[]): Promise<void> {
    if (!clean && this.#cfg.seal) this.#log.info({}, 'no new day sealed: the run was interrupted; the next run seals the closed days (sealed days this run changed are resealed)')
    const early = this.#early
    const policy: SealPolicy = { zone: this.#cfg.timezone, settleMs: this.#cfg.sealSettleMs, tool: this.#tool, key: this.#sealKey, now: this.#now, beforeSeal: this.#beforeSeal, early: early && ((path) => early.digest(path)) }
    // The sources are sealed side by side (each its own archive, manifest and lock) and reported in their order.
    const sealing = this.#cfg.sources.flatMap((src) => {
      const stats = this.#stats.get(src.name)
      if (stats === undefined) return [] // the source never opened (its checkpoint failed): its error is reported
      const lock = this.#locks.get(src.dir) as DirLock
      return [{ src, stats, seal: sealSource(src, this.#archive(src), stats, outcomes.find((o) => o.source === src.name), policy, this.#log, () => lock.check(), clean && this.#cfg.seal) }]
    })
    const settled = await Promise.allSettled(sealing.map((s) => s.seal))
    let failure: unknown
    for (const [i, { src, stats }] of sealing.entries()) {
      const r = settled[i]
      if (r.status === 'fulfilled') {
        if (!this.#cfg.seal && r.value.entries === 0) continue // --no-seal and no manifest: nothing to report
        stats.seal = r.value
        logSeal(this.#log, src, r.value)
      } else if (failure === undefined) failure = r.reason // the first failure is thrown (and logged by run); the others are logged here
      else this.#log.error({ source: src.name, code: (r.reason as Y360Error).code }, (r.reason as Error).message)
    }
    if (failure !== undefined) throw failure
  }

  close(): void {
    for (const l of this.#locks.values()) l.release()
    this.#locks.clear()
  }
}

function configProblems(problems: string[]): Y360Error {
  return new Y360Error('CONFIG_INVALID', `configuration problems:\n${problems.map((p) => `  - ${p}`).join('\n')}`, { problems })
}

/** The log line of a source's seal: what was sealed now, and the chain's head (a SIEM keeps a copy of it). */
function logSeal(log: Logger, src: SourceConfig, s: SealStats): void {
  const now = [s.sealed.length > 0 ? `sealed ${s.sealed.join(', ')}` : '', s.resealed.length > 0 ? `resealed ${s.resealed.join(', ')}` : ''].filter(Boolean).join('; ')
  const head = s.head === null ? 'nothing sealed yet' : `seal chain head ${s.head} (${s.entries} entries)`
  log.info({ source: src.name, sealHead: s.head, sealEntries: s.entries, sealed: s.sealed, resealed: s.resealed }, `${src.name}: ${now === '' ? '' : `${now}; `}${head}`)
}
