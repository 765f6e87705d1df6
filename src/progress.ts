/**
 * Progress: on a terminal, one live line per source on stderr (range covered, records, records/s, retries), redrawn at
 * most every `everyMs`. Log lines pass through `logStream`, which lifts the block, writes the line and redraws it, so
 * logs and progress do not garble each other. Disabled (a no-op) when stderr is not a TTY or with --quiet.
 */
import { Writable } from 'node:stream'
import type { ProgressUpdate } from './pipeline/run.js'
import { show, type Micros } from './time.js'

export type { ProgressUpdate }

export interface ProgressOptions {
  out: { write(s: string): unknown }
  enabled: boolean
  now: () => number
  everyMs?: number
  width?: number
}

const BAR = 10

/** Formats one source's line (pure; exported for tests): covered/end of the range, records fetched, rate, retries. */
export function progressLine(source: string, p: ProgressUpdate, elapsedMs: number): string {
  const span = Math.max(1, p.to - p.from)
  const frac = Math.min(1, Math.max(0, (p.covered - p.from) / span))
  const filled = Math.round(frac * BAR)
  const rate = elapsedMs > 0 ? Math.round((p.fetched * 1000) / elapsedMs) : 0
  const at = (us: Micros): string => show(us).slice(5, 16).replace('T', ' ') // MM-DD HH:MM (UTC)
  return `${source.padEnd(6)} [${'#'.repeat(filled)}${'.'.repeat(BAR - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}% ${at(p.covered)}/${at(p.to)} ${p.fetched} rec ${rate}/s ${p.retries} retries`
}

export class Progress {
  readonly #o: ProgressOptions
  readonly #state = new Map<string, { p: ProgressUpdate; started: number }>()
  #drawn = 0
  #lastDraw = -Infinity

  constructor(o: ProgressOptions) {
    this.#o = o
  }

  /** Records a source's progress and redraws when due. */
  update(source: string, p: ProgressUpdate): void {
    if (!this.#o.enabled) return
    const s = this.#state.get(source)
    this.#state.set(source, { p, started: s?.started ?? this.#o.now() })
    // Throttled, but a source reaching the end of its range is always shown.
    if (p.covered >= p.to || this.#o.now() - this.#lastDraw >= (this.#o.everyMs ?? 200)) this.#redraw()
  }

  /** Removes the block (end of a run); the next update starts a fresh one. */
  done(): void {
    if (!this.#o.enabled) return
    this.#clear()
    this.#state.clear()
  }

  /** A stderr stand-in for the logger (a real stream: pino-pretty pipes into it): log lines go above the live block. */
  readonly logStream = new Writable({
    decodeStrings: false,
    write: (chunk: string | Buffer, _enc, cb): void => {
      const s = typeof chunk === 'string' ? chunk : chunk.toString('utf8')
      if (!this.#o.enabled || this.#drawn === 0) this.#o.out.write(s)
      else {
        this.#clear()
        this.#o.out.write(s)
        this.#redraw()
      }
      cb()
    },
  })

  #clear(): void {
    if (this.#drawn === 0) return
    this.#o.out.write(`\x1b[${this.#drawn}F\x1b[0J`) // up to the block's first line, erase to the end of the screen
    this.#drawn = 0
  }

  #redraw(): void {
    this.#clear()
    const now = this.#o.now()
    const width = this.#o.width !== undefined && this.#o.width > 20 ? this.#o.width : 200 // a wrapped line would break the redraw
    const lines = [...this.#state].map(([src, s]) => progressLine(src, s.p, now - s.started).slice(0, width - 1))
    if (lines.length === 0) return
    this.#o.out.write(lines.join('\n') + '\n')
    this.#drawn = lines.length
    this.#lastDraw = now
  }
}
