/** The --watch loop: runs a cycle, waits --interval, runs again, until a stop signal or an output that closed. */
import { setTimeout as sleep } from 'node:timers/promises'
import { EXIT_CODES } from './errors.js'
import type { Logger } from './log.js'
import { showDuration } from './time.js'

/** What one cycle reports to the loop. */
export interface Cycle {
  exitCode: number
  written: number
  /** The output closed (a reader that left stdout): the loop ends successfully. */
  closed: boolean
}

export interface WatchOptions {
  watch: boolean
  intervalMs: number
  log: Logger
  now: () => number
  signal: AbortSignal
  /** Exit code of a stop signal received, if any. */
  interrupted(): number | undefined
  /** Runs cycle number `n` (from 1). */
  cycle(n: number): Promise<Cycle>
  /** Waits `ms` or until the signal (tests inject their own). */
  wait?: (ms: number, signal: AbortSignal) => Promise<void>
}

const realWait = (ms: number, signal: AbortSignal): Promise<void> => sleep(ms, undefined, { signal })

/** Runs one cycle, or cycles until stopped; returns the exit code. A stop signal's code wins over a cycle's. */
export async function runCycles(o: WatchOptions): Promise<number> {
  const wait = o.wait ?? realWait
  for (let n = 1; ; n++) {
    const started = o.now()
    const c = await o.cycle(n)
    const interrupted = o.interrupted()
    if (interrupted !== undefined) return interrupted
    if (!o.watch) return c.exitCode
    if (c.closed) {
      o.log.info(`cycle ${n}: stdout closed by the reader; watch ends`)
      return EXIT_CODES.OK
    }
    o.log.info({ cycle: n, exitCode: c.exitCode, written: c.written }, `cycle ${n} done: exit ${c.exitCode}, ${c.written} records written in ${showDuration(o.now() - started)}; next run in ${showDuration(o.intervalMs)}`)
    try {
      await wait(o.intervalMs, o.signal)
    } catch {
      return o.interrupted() ?? EXIT_CODES.INTERRUPTED
    }
  }
}
