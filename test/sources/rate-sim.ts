// A rate-limited host simulated on a discrete-event clock, for the limiter's tests: workers that send through one
// HostLimiter, a network with latency and jitter, and server models that refuse with 429 (a sliding window whose limit
// may change mid-run, a token bucket with a burst, a fixed window). Nothing waits for real.
import { HostLimiter } from '../../src/sources/limiter.js'
import { prng } from '../helpers.js'

/** A discrete-event clock: sleeps are timers that fire in time order as `runUntil` advances; nothing waits for real. */
export function eventClock(): { now: () => number; sleep: (ms: number) => Promise<void>; runUntil: (end: number) => Promise<void> } {
  let at = 0
  const timers: { due: number; seq: number; fire: () => void }[] = []
  let seq = 0
  const tick = (): Promise<void> => new Promise((r) => setImmediate(r))
  const sleep = (ms: number): Promise<void> => new Promise<void>((fire) => {
    timers.push({ due: at + Math.max(0, ms), seq: seq++, fire })
    timers.sort((a, b) => a.due - b.due || a.seq - b.seq)
  })
  return {
    now: () => at,
    sleep,
    runUntil: async (end) => {
      await tick()
      while (timers.length > 0 && timers[0].due <= end) {
        const next = timers.shift() as { due: number; fire: () => void }
        at = Math.max(at, next.due)
        next.fire()
        await tick()
      }
      at = end
    },
  }
}

/** A server's rate limit: whether a request arriving at `at` (ms) is served, and the sustained limit then (per s). */
export interface RateServer {
  admit(at: number): boolean
  limitAt(at: number): number
}

/** Serves at most `limit(at)` arrivals in any sliding second (refused arrivals do not count): the bundled emulator's model. */
export function slidingWindow(limit: (at: number) => number): RateServer {
  const served: number[] = []
  return {
    limitAt: limit,
    admit(at) {
      while (served.length > 0 && served[0] <= at - 1000) served.shift()
      if (served.length >= limit(at)) return false
      served.push(at)
      return true
    },
  }
}

/** A token bucket: `burst` tokens at most, refilled at `rps` per second; each served request takes one. */
export function tokenBucket(rps: number, burst: number): RateServer {
  let tokens = burst
  let last = 0
  return {
    limitAt: () => rps,
    admit(at) {
      tokens = Math.min(burst, tokens + ((at - last) * rps) / 1000)
      last = at
      if (tokens < 1) return false
      tokens -= 1
      return true
    },
  }
}

/** At most `rps` arrivals per whole second of the server's clock, which runs `phaseMs` ahead (the count starts again at each). */
export function fixedWindow(rps: number, phaseMs = 0): RateServer {
  let second = -Infinity
  let count = 0
  return {
    limitAt: () => rps,
    admit(at) {
      const s = Math.floor((at + phaseMs) / 1000)
      if (s !== second) [second, count] = [s, 0]
      if (count >= rps) return false
      count++
      return true
    },
  }
}

export interface SimOptions {
  server: RateServer
  workers: number
  /** Simulated run length (ms); figures count arrivals from `fromMs` to `untilMs` (default the end). */
  runMs: number
  fromMs: number
  untilMs?: number
  /** One-way network delay (ms): half the latency, plus up to `jitterMs` more, drawn per leg. */
  latencyMs: number
  jitterMs: number
  /** The 429's Retry-After (ms). */
  retryAfterMs?: number
  maxRps?: number
  seed?: number
}

export interface SimResult {
  /** Share of the counted arrivals refused with 429. */
  refusedShare: number
  /** Counted arrivals served, over what the server allowed in that span (the integral of its limit). */
  servedShare: number
  refused: number
  served: number
  /** Requests sent while a 429's pause was in force (must be none). */
  sentDuringPause: number
  /** The most requests sent in any sliding second. */
  peakPerSecond: number
}

/** Runs `workers` callers through one HostLimiter against `server`, each retrying a refused request as the client does. */
export async function simulate(o: SimOptions): Promise<SimResult> {
  const clock = eventClock()
  const rng = prng(o.seed ?? 1)
  const sends: number[] = []
  const l = new HostLimiter({ maxRps: o.maxRps ?? 0, now: clock.now, sleep: clock.sleep, onSend: (at) => sends.push(at) })
  const pauses: [number, number][] = []
  const until = o.untilMs ?? o.runMs
  let served = 0
  let refused = 0
  const leg = (): number => o.latencyMs / 2 + rng.next() * o.jitterMs
  const worker = async (): Promise<void> => {
    let limited = 0 // the request's own 429s: the client's pause doubles with them, as retry.ts decides
    while (clock.now() < o.runMs) {
      const sentAt = await l.acquire()
      await clock.sleep(leg()) // the event clock: a timer of the simulation, no real time passes
      const at = clock.now()
      const ok = o.server.admit(at)
      if (at >= o.fromMs && at < until) ok ? served++ : refused++
      await clock.sleep(leg())
      l.answered(sentAt, !ok)
      if (ok) limited = 0
      else {
        const ms = Math.max(o.retryAfterMs ?? 1000, 1000 * 2 ** limited++)
        pauses.push([clock.now(), clock.now() + ms])
        l.pause(ms)
      }
    }
  }
  const done = Promise.all(Array.from({ length: o.workers }, worker))
  await clock.runUntil(o.runMs + 60_000)
  await done
  let allowed = 0
  for (let at = o.fromMs; at < until; at += 100) allowed += o.server.limitAt(at) / 10
  let peak = 0
  for (let i = 0, j = 0; i < sends.length; i++) {
    while (sends[j] <= sends[i] - 1000) j++
    peak = Math.max(peak, i - j + 1)
  }
  return {
    refusedShare: refused / Math.max(1, served + refused),
    servedShare: served / allowed,
    refused,
    served,
    sentDuringPause: sends.filter((at) => pauses.some(([a, b]) => at > a && at < b)).length,
    peakPerSecond: peak,
  }
}
