/**
 * Per-host request pacing shared by every source, window and organisation of a run: a hard cap (--max-rps), a pause
 * after a 429 (Retry-After holds every caller of the host: nothing is sent before it ends), and an adaptive rate.
 *
 * The adaptive rate learns the host's limit from what the host accepted: the client tells `answered` how each request
 * was answered, with the instant `acquire` let it through. Without any 429 the rate stays unlimited.
 * - The host's first 429 only pauses: the second before it may hold anything else the host took (a run that just
 *   ended, another client on the same quota, a token bucket's stored burst). After the pause the requests go out at
 *   once again, and the 429 that ends that burst gives the first reading.
 * - A reading: a 429 for a request sent after the last one was acted on and its pause ended means the host's budget
 *   was spent when that request arrived, so the requests it accepted among those sent in the second before are its
 *   limit (answers still in flight count when they come; of one burst's refusals the latest send counts, as requests
 *   sent just after a refused one may have arrived before it). In a second filled at the pace, the pace refines the
 *   count to within one request. A reading never exceeds the pace the host refused, so every 429 lowers the pace by
 *   the margin at least: a bucket's burst or a fixed window's edge taken for the limit comes off in a few 429s.
 * - The pace is the reading less 5%, held for HOLD_MS of busy time (time callers spent queued on the pace), then
 *   raised slowly and ever faster (+0.2%/s, the growth doubling every DOUBLE_MS: +5% after about 11 s, twice the
 *   rate after about 28 s) until the next 429 reads the limit again. Every probe costs the whole host a Retry-After
 *   pause, hence the long hold: against a sliding one-second window the pace settles at about 94% of the limit, and a
 *   limit that rises mid-run is found within a minute or so. Only busy time counts, so a host left idle (the end of a
 *   run, organisations waiting for each other) does not come back at a rate nobody tried.
 * - A token bucket whose burst is smaller than its rate reads low at first (the burst is all the first second shows);
 *   the probes find its rate, after the hold. A 429 when the host accepted nothing in the second before says nothing
 *   of the rate and keeps the last reading.
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

/** The span the host's limit is counted over (ms). */
const WINDOW_MS = 1000
/** The pace is the reading less this share. */
const MARGIN = 0.05
/** Busy time (ms) the pace holds under the reading before probing above it. */
const HOLD_MS = 30_000
/** Probing: the rate's growth per second at first, which doubles every DOUBLE_MS of busy time. */
const PROBE_GROWTH = 0.002
const DOUBLE_MS = 5000
/** The adaptive rate never goes below this (requests per second). */
const MIN_RPS = 0.5
/** Accepted send instants kept (ms): enough for a 429 that comes back late. */
const KEEP_MS = 5000

/** What a 429 showed of the host's limit; `HostLimiter.#limit` turns it into requests per second. */
interface Reading {
  /** The send instant of the latest refused request counted, and how many sent in the second before it were accepted. */
  to: number
  accepted: number
  /** The pace when the 429 came (Infinity: unlimited), and whether accepted requests filled that second at that pace. */
  paced: number
  steady: boolean
  /** The limit read before, kept when the host accepted nothing in the second before this 429 (nothing to go by). */
  before: number
}

export class HostLimiter {
  readonly #capRps: number
  readonly #now: () => number
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>
  readonly #adaptive: boolean
  readonly #onSend: ((atMs: number) => void) | undefined
  #nextSlot = 0
  #pausedUntil = 0
  #lastSend = -Infinity
  /** Whether the host has refused a request yet: its first 429 only pauses (see the header). */
  #refusedOnce = false
  /** The last reading; undefined until the second 429. */
  #reading: Reading | undefined
  /** When the last 429 was acted on: refusals of requests sent before it (or before its pause ended) are its burst. */
  #actedAt = -Infinity
  /** Busy time (ms) since then: time callers spent queued on the pace. */
  #busyMs = 0
  /** Send instants of accepted requests of the last KEEP_MS or so, in the order they were answered. */
  #accepted: number[] = []

  constructor(opts: LimiterOptions) {
    this.#capRps = opts.maxRps > 0 ? opts.maxRps : Infinity
    this.#now = opts.now ?? Date.now
    this.#sleep = opts.sleep ?? realSleep
    this.#adaptive = opts.adaptive ?? true
    this.#onSend = opts.onSend
  }

  /** Requests per second currently allowed (the smaller of --max-rps and the adaptive rate). */
  get rate(): number {
    return Math.min(this.#capRps, this.#adaptiveRate())
  }

  /** Resolves, with the instant it lets the request through, when this caller may send its request. */
  async acquire(signal?: AbortSignal): Promise<number> {
    let waited = false
    for (;;) {
      const now = this.#now()
      const start = Math.max(now, this.#pausedUntil, this.#nextSlot)
      if (start <= now) {
        const rate = this.rate
        const interval = Number.isFinite(rate) ? 1000 / rate : 0
        // Busy while callers queue on the pace: only then does the host see the rate it is probed at.
        if (waited) this.#busyMs += Math.min(now - this.#lastSend, interval)
        this.#lastSend = now
        this.#nextSlot = now + interval
        this.#onSend?.(now)
        return now
      }
      waited = true
      await this.#sleep(start - now, signal)
    }
  }

  /** How the request let through at `sentAt` (what `acquire` returned) was answered: refused with a 429, or not. */
  answered(sentAt: number, rateLimited: boolean): void {
    if (!this.#adaptive) return
    const r = this.#reading
    if (rateLimited) {
      if (sentAt > this.#actedAt && sentAt >= this.#pausedUntil) this.#refused(sentAt)
      else if (r !== undefined && sentAt > r.to) this.#count(r, sentAt) // the same burst: its latest send counts
      return
    }
    const now = this.#now()
    this.#accepted.push(sentAt)
    if (this.#accepted[0] < now - 2 * KEEP_MS) this.#accepted = this.#accepted.filter((at) => at >= now - KEEP_MS)
    if (r !== undefined && sentAt > r.to - WINDOW_MS && sentAt <= r.to) r.accepted++ // in flight when the 429 came
  }

  /** A 429: holds all callers for `ms` from now (never shortens an existing pause). */
  pause(ms: number): void {
    this.#pausedUntil = Math.max(this.#pausedUntil, this.#now() + ms)
  }

  /** A 429 that is news: read the limit from it (from the second one on), and hold the new pace. */
  #refused(sentAt: number): void {
    this.#actedAt = this.#now()
    if (!this.#refusedOnce) {
      this.#refusedOnce = true
      return
    }
    const r: Reading = { to: -Infinity, accepted: 0, paced: this.rate, steady: false, before: this.#limit() }
    this.#count(r, sentAt)
    this.#reading = r
    this.#busyMs = 0
  }

  /** Counts the accepted requests sent in the second before the refused one sent at `sentAt` (see the header). */
  #count(r: Reading, sentAt: number): void {
    const from = sentAt - WINDOW_MS
    let n = 0
    let oldest = Infinity
    for (const at of this.#accepted) {
      if (at <= from || at > sentAt) continue
      n++
      oldest = Math.min(oldest, at)
    }
    r.to = sentAt
    r.accepted = Math.max(r.accepted, n)
    r.steady = Number.isFinite(r.paced) && oldest - from <= 1500 / r.paced // the first came within a pace's gap or so
  }

  /** Requests per second the host seems to allow; Infinity before a reading. */
  #limit(): number {
    const r = this.#reading
    if (r === undefined) return Infinity
    if (r.accepted === 0) return r.before
    // Never more than the pace the host just refused. In a second filled at that pace, the limit lies between the
    // count and one more, where the pace is the finer reading; after a burst or a pause, the count is what it took.
    return Math.min(r.paced, r.steady ? r.accepted + 1 : r.accepted)
  }

  #adaptiveRate(): number {
    const limit = this.#limit()
    if (!Number.isFinite(limit)) return Infinity
    const base = Math.max(MIN_RPS, limit * (1 - MARGIN))
    const probing = this.#busyMs - HOLD_MS
    if (probing <= 0) return base
    return base * Math.exp(((PROBE_GROWTH * DOUBLE_MS) / 1000 / Math.LN2) * (2 ** (probing / DOUBLE_MS) - 1))
  }
}

/** One limiter per host name, created on first use; one instance may serve several runs (organisations) at once. */
export class Limiters {
  readonly #byHost = new Map<string, HostLimiter>()
  constructor(private readonly opts: LimiterOptions) {}
  /** The limiters of a command or run: `--max-rps` as the cap, waiting on `timer` (the real clock when undefined). */
  static capped(maxRps: number, timer: Timer | undefined): Limiters {
    return new Limiters({ maxRps, now: timer?.now, sleep: timer?.sleep })
  }
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
