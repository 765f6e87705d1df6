/**
 * The stream output (--stdout): NDJSON records on stdout, nothing else. With --state-file, a cursor per source (newest
 * delivered instant + the keys within the overlap) makes runs incremental: the state file's directory is locked (two
 * runs sharing a cursor would deliver twice), and the cursor is saved only after every record written was accepted
 * by stdout and the reader is still there (the delivery gate).
 */
import { access } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Config, SourceConfig } from '../../config.js'
import type { Logger } from '../../log.js'
import type { SourceStats } from '../../messages.js'
import { advanceCursor, DeliveryTracker, loadCursor, saveCursor, type Cursor } from '../../sinks/cursor.js'
import { scrubber } from '../../secrets.js'
import { StdoutSink, isOutputClosed } from '../../sinks/stdout.js'
import { DirLock } from '../lock.js'
import type { Output, SourceTarget } from '../output.js'

export class StreamOutput implements Output {
  readonly mode = 'stdout'
  readonly #cfg: Config
  readonly #log: Logger
  readonly #now: () => number
  readonly #out: NodeJS.WritableStream
  readonly #trackers = new Map<string, DeliveryTracker>()
  #cursor: Cursor | undefined
  #lock: DirLock | undefined

  constructor(cfg: Config, log: Logger, now: () => number, out: NodeJS.WritableStream) {
    this.#cfg = cfg
    this.#log = log
    this.#now = now
    this.#out = out
  }

  async open(): Promise<void> {
    const path = this.#cfg.stateFile
    if (path === undefined) return
    this.#lock = DirLock.acquire(dirname(path), this.#log, { now: this.#now, staleMs: this.#cfg.lockStaleMs })
    this.#cursor = await loadCursor(path)
  }

  async source(src: SourceConfig, stats: SourceStats): Promise<SourceTarget> {
    const start = this.#cursor?.get(src.name)
    const tracker = new DeliveryTracker(start, this.#cfg.overlapMs * 1000)
    this.#trackers.set(src.name, tracker)
    return {
      resume: start?.resumeUs,
      where: this.#cfg.stateFile === undefined ? 'no state file' : `state file ${this.#cfg.stateFile}`,
      seed: () => new Map(start?.keys),
      sink: () => ({ mode: 'stdout', sink: new StdoutSink(this.#out, tracker, src.name, stats) }),
    }
  }

  quietEnd(err: unknown): boolean {
    return isOutputClosed(err)
  }

  async commit(clean: boolean): Promise<void> {
    const path = this.#cfg.stateFile
    if (path === undefined || this.#cursor === undefined) return
    if (!clean) {
      // What sat in the pipe may never have been read: keep the old position (the next run delivers it again).
      this.#log.info(`state file ${path} left at its previous position (output closed or interrupted)`)
      return
    }
    const changed = advanceCursor(this.#cursor, this.#trackers)
    if (!changed && (await fileExists(path))) return
    this.#lock?.check()
    await saveCursor(path, this.#cursor, this.#now(), scrubber([this.#cfg.token]))
  }

  close(): void {
    this.#lock?.release()
    this.#lock = undefined
  }
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}
