/**
 * Per-host request pacing shared by every source and window of a run: a hard cap (--max-rps), a pause after a 429
 * (Retry-After holds every caller of the host), and an adaptive rate. A 429 means the host's limit was passed: the
 * rate is cut to a little below what was actually sent in the last second (once per second, however many 429s the
 * requests in flight bring back), then raised again, quickly while well below the rate that drew the 429 and slowly
 * near it, so the limit is probed rarely. Without any 429 the rate stays unlimited (or at --max-rps).
 */
import { setTimeout as sleep } from 'node:timers/promises'

/** The clock that retry backoffs, 429 pauses and the rate limiter wait on: the real one, or a test's fake clock. */
export interface Timer {
  now(): number
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

export interface LimiterOptions {
  maxRps: number // 0 = unlimited
  now?: () => number
  /** Waits `ms` (tests inject a fake clock's advance). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  /** Whether a 429 lowers the rate (default true); false keeps only the cap and the pauses. */
  adaptive?: boolean
  /** Told the instant (from `now`) each request is let through, as it is (tests observe a host's pacing). */
  onSend?: (atMs: number) => void
}

const realSleep = (ms: number, signal?: AbortSignal): Promise<void> => sleep(ms, undefined, { signal })

/** After a 429 the rate becomes this share of what was sent in the last second. */
const CUT = 0.9
/** Growth per second while below NEAR × the rate that drew the last 429, and while near or above it. */
const FAST_GROWTH = 0.08
const SLOW_GROWTH = 0.001
const NEAR = 0.97
/** The adaptive rate never goes below this (requests per second). */
const MIN_RPS = 0.5

export class HostLimiter {
  readonly #capRps: number
  readonly #now: () => number
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>
  readonly #adaptive: boolean
  readonly #onSend: ((atMs: number) => void) | undefined
  #nextSlot = 0
  #pausedUntil = 0
  /** Adaptive rate (requests/s); Infinity until the first 429. */
  #rate = Infinity
  /** The rate that drew the last 429 (what the host's limit seems to be). */
  #ceiling = Infinity
  #lastCut = -Infinity
  #lastGrowth = 0
  /** Send times within the last second, oldest first. */
  readonly #sent: number[] = []

  constructor(opts: LimiterOptions) {
    this.#capRps = opts.maxRps > 0 ? opts.maxRps : Infinity
    this.#now = opts.now ?? Date.now
    this.#sleep = opts.sleep ?? realSleep
    this.#adaptive = opts.adaptive ?? true
    this.#onSend = opts.onSend
  }

  /** Requests per second currently allowed (the smaller of --max-rps and the adaptive rate). */
  get rate(): number {
    return Math.min(this.#capRps, this.#rate)
  }

  /** Resolves when this caller may send its request. */
  async acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = this.#now()
      this.#grow(now)
      const start = Math.max(now, this.#pausedUntil, this.#nextSlot)
      if (start <= now) {
        const rate = this.rate
        this.#nextSlot = now + (Number.isFinite(rate) ? 1000 / rate : 0)
        this.#record(now)
        this.#onSend?.(now)
        return
      }
      await this.#sleep(start - now, signal)
    }
  }

  /** A 429: holds all callers for `ms` from now (never shortens an existing pause), and lowers the rate. */
  pause(ms: number): void {
    const now = this.#now()
    this.#pausedUntil = Math.max(this.#pausedUntil, now + ms)
    this.#prune(now)
    // The other requests of the same burst: one cut per second. Nothing sent in the last second: nothing to go by.
    if (!this.#adaptive || now - this.#lastCut < 1000 || this.#sent.length === 0) return
    this.#lastCut = now
    this.#lastGrowth = now
    // What was sent in the last second is about what the host's window let through (plus the few it refused).
    this.#ceiling = Math.min(this.#rate, Math.max(MIN_RPS, this.#sent.length))
    this.#rate = Math.max(MIN_RPS, this.#ceiling * CUT)
  }

  #grow(now: number): void {
    if (!Number.isFinite(this.#rate)) return
    const dt = (now - this.#lastGrowth) / 1000
    if (dt <= 0) return
    this.#lastGrowth = now
    this.#rate *= 1 + dt * (this.#rate < NEAR * this.#ceiling ? FAST_GROWTH : SLOW_GROWTH)
  }

  #record(now: number): void {
    this.#sent.push(now)
    this.#prune(now)
  }

  #prune(now: number): void {
    let drop = 0
    while (drop < this.#sent.length && this.#sent[drop] <= now - 1000) drop++
    if (drop > 0) this.#sent.splice(0, drop)
  }
}

/** One limiter per host name, created on first use; one instance may serve several runs (organisations) at once. */
export class Limiters {
  readonly #byHost = new Map<string, HostLimiter>()
  constructor(private readonly opts: LimiterOptions) {}
  /** The hosts that have a limiter so far. */
  hosts(): string[] {
    return [...this.#byHost.keys()]
  }
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
