/**
 * Output: where a run's records go, and where each source resumes. One implementation per mode: the archive (lock,
 * marks, checkpoint, a rotating or merging file sink) and the stream (state file, cursor, delivery gate, stdout). The
 * composer (run.ts) knows only this interface; a new output is one new module implementing it.
 */
import type { Writable } from 'node:stream'
import type { SourceConfig } from '../config.js'
import type { SourceStats } from '../messages.js'
import type { Micros } from '../time.js'
import type { Outcome } from './outcome.js'

/** Summary mode of a source: append (incremental), backfill (--since merged into day files), stdout or syslog (alone). */
export type OutputMode = 'append' | 'backfill' | 'stdout' | 'syslog'

/** One source's side of an output: its start point, then its sink for the planned range. */
export interface SourceTarget {
  /** Newest instant already delivered; undefined when nothing was. */
  readonly resume: Micros | undefined
  /** Words for the log line: where the position comes from. */
  readonly where: string
  /** Keys already delivered at or after `from` (may still be loading: Dedupe awaits it). */
  seed(from: Micros): Promise<Map<string, Micros>> | Map<string, Micros>
  /** The sink of this run for [from, to), and the mode it writes in. */
  sink(range: { from: Micros; to: Micros }): { sink: Writable; mode: OutputMode }
}

export interface Output {
  /** The mode before any source is opened (a backfill source may still append: see SourceTarget.sink). */
  readonly mode: OutputMode
  /** Takes the locks, then checks the marks and reads the state this output keeps; throws LOCKED or CONFIG_INVALID. */
  open(): Promise<void>
  /** Opens one source: its start point, and later its sink. */
  source(src: SourceConfig, stats: SourceStats): Promise<SourceTarget>
  /** Whether a source's error ends the run quietly and successfully (the stdout reader went away). */
  quietEnd(err: unknown): boolean
  /**
   * After every source ended: keeps what was delivered (the cursor), seals the archive's closed days. `clean` is false
   * after a signal or a quiet end; `outcomes` says how each source ended (what its archive is known to cover).
   */
  commit(clean: boolean, outcomes: readonly Outcome[]): Promise<void>
  /** Releases the locks; never throws. */
  close(): void
}
