// Request statistics and a bounded log of received API requests.
import type { SourceName } from './catalog.js'
import { FAULT_KINDS, type FaultKind } from './faults.js'

/** Counters since start or the last reset (API requests only; /__admin/ is not counted). */
export interface Stats {
  requests: number
  byStatus: Record<string, number>
  bySource: Record<SourceName, number>
  pagesServed: number
  recordsServed: number
  inFlight: number
  peakConcurrency: number
  faultsInjected: Record<FaultKind, number>
  /** Body bytes the endlessBody and dripBody faults got written to sockets (what a client made us send before it stopped). */
  hostileBytesSent: number
}

/** One received API request; status 0 means no response was sent (stall, client gone). */
/** One request as the emulator saw it; `at` is when it arrived (the emulator's clock, epoch ms). */
export interface RequestLogEntry { method: string; path: string; query: string; source?: SourceName; status: number; at: number }

/** Collects Stats and the last `logLimit` requests. */
export class StatsRecorder {
  #s: Stats = StatsRecorder.#empty()
  #log: RequestLogEntry[] = []
  constructor(private readonly logLimit = 10_000) {}
  static #empty(): Stats {
    return {
      requests: 0, byStatus: {}, bySource: { mail: 0, disk: 0, events: 0 }, pagesServed: 0, recordsServed: 0,
      inFlight: 0, peakConcurrency: 0, faultsInjected: Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>, hostileBytesSent: 0,
    }
  }
  /** A request arrived. */
  begin(source: SourceName | undefined): void {
    const s = this.#s
    s.requests++
    if (source) s.bySource[source]++
    s.inFlight++
    if (s.inFlight > s.peakConcurrency) s.peakConcurrency = s.inFlight
  }
  /** A request finished (answered with `status`, or 0 for none). */
  end(entry: RequestLogEntry): void {
    const s = this.#s
    s.inFlight = Math.max(0, s.inFlight - 1)
    s.byStatus[String(entry.status)] = (s.byStatus[String(entry.status)] ?? 0) + 1
    this.#log.push(entry)
    if (this.#log.length > this.logLimit) this.#log.splice(0, this.#log.length - this.logLimit)
  }
  /** A page with `n` records was served. */
  page(n: number): void { this.#s.pagesServed++; this.#s.recordsServed += n }
  /** Hostile body bytes were written. */
  sent(n: number): void { this.#s.hostileBytesSent += n }
  /** A fault was injected. */
  fault(kind: FaultKind, n = 1): void { this.#s.faultsInjected[kind] += n }
  /** API requests since start or reset (cheap, for per-request hooks). */
  count(): number { return this.#s.requests }
  /** A deep copy of the counters. */
  snapshot(): Stats { return structuredClone(this.#s) }
  /** A copy of the request log, oldest first. */
  requests(): RequestLogEntry[] { return this.#log.map((e) => ({ ...e })) }
  /** Zeroes the counters and the log (requests in flight stay counted as in flight). */
  reset(): void {
    const inFlight = this.#s.inFlight
    this.#s = StatsRecorder.#empty()
    this.#s.inFlight = inFlight
    this.#log = []
  }
}
