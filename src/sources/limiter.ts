/** Per-host request pacing shared by every source and window: a minimum spacing (--max-rps) and a pause after 429. */
import { setTimeout as sleep } from 'node:timers/promises'

export interface LimiterOptions {
  maxRps: number // 0 = unlimited
  now?: () => number
  /** Waits `ms` (tests inject a fake clock's advance). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
}

const realSleep = (ms: number, signal?: AbortSignal): Promise<void> => sleep(ms, undefined, { signal })

/** Callers `await acquire()` before each request; `pause(ms)` holds every caller of this host (a 429 slows all workers). */
export class HostLimiter {
  readonly #spacingMs: number
  readonly #now: () => number
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>
  #nextSlot = 0
  #pausedUntil = 0

  constructor(opts: LimiterOptions) {
    this.#spacingMs = opts.maxRps > 0 ? 1000 / opts.maxRps : 0
    this.#now = opts.now ?? Date.now
    this.#sleep = opts.sleep ?? realSleep
  }

  /** Resolves when this caller may send its request. */
  async acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = this.#now()
      const start = Math.max(now, this.#pausedUntil, this.#nextSlot)
      if (start <= now) {
        this.#nextSlot = now + this.#spacingMs
        return
      }
      await this.#sleep(start - now, signal)
    }
  }

  /** Holds all callers for `ms` from now (never shortens an existing pause). */
  pause(ms: number): void {
    this.#pausedUntil = Math.max(this.#pausedUntil, this.#now() + ms)
  }
}

/** One limiter per host name, created on first use. */
export class Limiters {
  readonly #byHost = new Map<string, HostLimiter>()
  constructor(private readonly opts: LimiterOptions) {}
  for(url: string): HostLimiter {
    const host = new URL(url).host
    let l = this.#byHost.get(host)
    if (l === undefined) {
      l = new HostLimiter(this.opts)
      this.#byHost.set(host, l)
    }
    return l
  }
}
