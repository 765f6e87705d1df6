// Live mode: a real (unref'd) timer that keeps adding records at a rate, some of them late.
import type { SourceName } from './catalog.js'
import { Rng } from './prng.js'

/** Live arrival settings. */
export interface LiveOptions { ratePerSec: number; lateFraction?: number; lateMaxSeconds?: number; sources?: SourceName[] }

/** Starts adding records; returns a stop function. `add` gets the source, the count and the lateness bound (s) to use. */
export function startLive(opts: LiveOptions, clock: () => number, seed: number, add: (s: SourceName, n: number, lateSeconds: number) => void): () => void {
  const sources = opts.sources ?? ['mail', 'disk', 'events']
  const rng = new Rng(seed ^ 0x11fe)
  const tickMs = Math.max(20, Math.min(1000, 1000 / Math.max(opts.ratePerSec, 0.001)))
  let last = clock()
  const owed = new Map<SourceName, number>(sources.map((s) => [s, 0]))
  const timer = setInterval(() => {
    const now = clock()
    const dt = Math.max(0, now - last) / 1000
    last = now
    for (const s of sources) {
      let due = (owed.get(s) ?? 0) + dt * opts.ratePerSec
      const n = Math.floor(due)
      due -= n
      owed.set(s, due)
      for (let i = 0; i < n; i++) {
        const late = rng.chance(opts.lateFraction ?? 0)
        add(s, 1, late ? (opts.lateMaxSeconds ?? 60) : 0)
      }
    }
  }, tickMs)
  timer.unref()
  return () => clearInterval(timer)
}
