/**
 * Cursor file of --stdout runs (--state-file): per source, the newest delivered instant and the keys of delivered
 * records within the overlap, so the next run asks from resume − overlap and drops what it already delivered.
 * JSON, written atomically (0600: the keys hold record content), only after stdout accepted the data.
 */
import { readFile } from 'node:fs/promises'
import { writeFileAtomic } from '../atomic.js'
import { Y360Error } from '../errors.js'
import { evictBefore, recordKey, type AuditRecord } from '../messages.js'
import type { Scrub } from '../secrets.js'
import { show, type Micros } from '../time.js'

/** One source's position: newest delivered instant (µs) and the delivered keys at or after resume − overlap. */
export interface SourceCursor {
  resumeUs: Micros
  keys: Map<string, Micros>
}

/** Every source's position; sources absent from the file have never delivered anything. */
export type Cursor = Map<string, SourceCursor>

interface CursorFile {
  version: 1
  updated: string
  sources: Record<string, { resume: string; resumeUs: number; keys: [string, number][] }>
}

function bad(path: string, why: string, cause?: unknown): Y360Error {
  return new Y360Error('CONFIG_INVALID', `the state file ${path} is not a y360-audit cursor (${why}); fix it or move it away to start over (the next run then delivers from --since or --lookback again)`, { path }, { cause })
}

/** Reads the cursor file; a missing file is an empty cursor, a damaged one is CONFIG_INVALID (never silently restarted). */
export async function loadCursor(path: string): Promise<Cursor> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map()
    throw bad(path, (err as Error).message, err)
  }
  let data: CursorFile
  try {
    data = JSON.parse(text) as CursorFile
  } catch (err) {
    throw bad(path, 'not JSON', err)
  }
  if (data?.version !== 1 || typeof data.sources !== 'object' || data.sources === null) throw bad(path, 'unknown version')
  const cursor: Cursor = new Map()
  for (const [name, s] of Object.entries(data.sources)) {
    if (!Number.isSafeInteger(s?.resumeUs) || !Array.isArray(s.keys)) throw bad(path, `bad entry for ${name}`)
    const keys = new Map<string, Micros>()
    for (const k of s.keys) {
      if (!Array.isArray(k) || typeof k[0] !== 'string' || !Number.isSafeInteger(k[1])) throw bad(path, `bad key in ${name}`)
      keys.set(k[0], k[1])
    }
    cursor.set(name, { resumeUs: s.resumeUs, keys })
  }
  return cursor
}

/** Writes the whole cursor atomically (tmp + fsync + rename + dir fsync), mode 0600. */
export async function saveCursor(path: string, cursor: Cursor, nowMs: number, scrub: Scrub = (s) => s): Promise<void> {
  const file: CursorFile = { version: 1, updated: new Date(nowMs).toISOString(), sources: {} }
  for (const [name, c] of [...cursor].sort(([a], [b]) => (a < b ? -1 : 1))) {
    file.sources[name] = { resume: show(c.resumeUs), resumeUs: c.resumeUs, keys: [...c.keys] }
  }
  try {
    await writeFileAtomic(path, scrub(JSON.stringify(file, null, 1)) + '\n', 0o600)
  } catch (err) {
    throw new Y360Error('SINK_WRITE', `cannot write the state file ${path}: ${(err as Error).message}; the data was delivered, the next run delivers it again`, { path }, { cause: err })
  }
}

/** Moves each source's position in `cursor` to what its tracker saw delivered in this run; true when one moved. */
export function advanceCursor(cursor: Cursor, trackers: ReadonlyMap<string, DeliveryTracker>): boolean {
  let changed = false
  for (const [name, t] of trackers) {
    const snap = t.snapshot()
    if (snap !== undefined && t.count > 0) {
      cursor.set(name, snap)
      changed = true
    }
  }
  return changed
}

/** Tracks what stdout accepted: the newest instant and the keys within the overlap of it (bounded memory). */
export class DeliveryTracker {
  #resume: Micros | undefined
  readonly #keys: Map<string, Micros>
  readonly #overlapUs: Micros
  #delivered = 0

  constructor(start: SourceCursor | undefined, overlapUs: Micros) {
    this.#resume = start?.resumeUs
    this.#keys = new Map(start?.keys)
    this.#overlapUs = overlapUs
  }

  /** Marks records as delivered (called after stdout's write callback); keys only for those within the overlap. */
  delivered(records: readonly AuditRecord[]): void {
    for (const r of records) if (this.#resume === undefined || r.us > this.#resume) this.#resume = r.us
    this.#delivered += records.length
    const horizon = (this.#resume ?? 0) - this.#overlapUs
    for (const r of records) if (r.us >= horizon) this.#keys.set(recordKey(r), r.us)
    evictBefore(this.#keys, horizon)
  }

  /** Records delivered in this run. */
  get count(): number {
    return this.#delivered
  }

  /** The position to store; undefined when nothing was ever delivered. */
  snapshot(): SourceCursor | undefined {
    return this.#resume === undefined ? undefined : { resumeUs: this.#resume, keys: new Map(this.#keys) }
  }
}
