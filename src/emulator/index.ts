// Public API of the Yandex 360 audit-log emulator: startEmulator() and its types.
import type { AddressInfo } from 'node:net'
import { SOURCES, type SourceName } from './catalog.js'
import { readDataset } from './dataset.js'
import { DEFAULT_FAULTS, FaultEngine, mergeFaults, type Faults } from './faults.js'
import { startLive, type LiveOptions } from './live.js'
import { createEmulatorServer } from './server.js'
import { SourceData } from './source.js'
import type { EmulatorState } from './state.js'
import { StatsRecorder, type RequestLogEntry, type Stats } from './stats.js'
import type { RenderFormat } from './generate.js'
import { DEFAULT_SWITCHES, mergeSwitches, renderFormat, type Switches, type SwitchesPatch } from './switches.js'
import { iterTruth, type TruthQuery } from './truth.js'

export { DISK_TYPES, EVENT_SERVICES, EVENT_TYPES, MAIL_TYPES, SCOPES, SOURCES, type SourceName } from './catalog.js'
export { DEFAULT_FAULTS, type FaultKind, type Faults } from './faults.js'
export type { LiveOptions } from './live.js'
export type { RequestLogEntry, Stats } from './stats.js'
export { DEFAULT_SWITCHES, type Switches, type SwitchesPatch } from './switches.js'
export type { TruthQuery } from './truth.js'

/** Options of startEmulator(); every field optional. */
export interface EmulatorOptions {
  /** Interface to bind. Default '127.0.0.1'. */
  host?: string
  /** Port; 0 picks a free one. Default 0. */
  port?: number
  /** Accepted token: requests need exactly `Authorization: OAuth <token>`. Default 'test-token'. */
  token?: string
  /** The one known organisation id. Default 123. */
  org?: number
  /** Generated records per source. Default 0 each. */
  counts?: Partial<Record<SourceName, number>>
  /** Span of generated data in days, ending at `end`. Default 7. */
  days?: number
  /** End of generated data, epoch ms. Default clock(). */
  end?: number
  /** Data seed. Default 1. */
  seed?: number
  /** NDJSON file per source to load (as-is) instead of generating. */
  datasets?: Partial<Record<SourceName, string>>
  /** Epoch-ms clock used for every "now" (default beforeDate, retention, inject stamps, rate limit). Default Date.now. */
  clock?: () => number
  /** Keep adding records on a real unref'd timer (CLI/demo; tests use inject()). */
  live?: LiveOptions
  /** Behaviour switches (see Switches). */
  switches?: SwitchesPatch
  /** Faults to inject from the start (see Faults). */
  faults?: Partial<Faults>
  /** Called as each API request arrives (before faults), with the API request count since start or resetStats(). */
  onRequest?: (count: number) => void
}

/** A running emulator. */
export interface Emulator {
  /** Base URL, e.g. http://127.0.0.1:41234 (serves both hosts' paths). */
  readonly url: string
  readonly org: number
  readonly token: string
  /** Stops live arrivals and pending delays, destroys open (also stalled) sockets, closes the server. */
  close(): Promise<void>
  /** Visible records (retention applied) matching q, ascending by instant (ties: store order; the API serves them newest first, ties reversed). from/to: epoch ms inclusive, fractions read to the µs. */
  truth(source: SourceName, q?: TruthQuery): object[]
  /** Adds n records stamped clock() (or clock() − random(0..lateSeconds) s, or exactly `at` epoch ms, fractions = µs), rounded down to the source's precision; returns them as served. */
  inject(source: SourceName, n: number, opts?: { lateSeconds?: number; at?: number }): object[]
  /**
   * Late arrivals: adds n records stamped in the past, spread over [from, to) (epoch ms, to ≤ clock()), visible from now
   * on (the ground truth holds them at once); returns them as served, ascending.
   */
  late(source: SourceName, n: number, range: { from: number; to: number }): object[]
  /** Changes faults at runtime (partial, validated; throws TypeError). */
  setFaults(f: Partial<Faults>): void
  /** Changes switches at runtime (partial, validated; throws TypeError). */
  setSwitches(s: SwitchesPatch): void
  /** Current switches (a copy). */
  switches(): Switches
  /** Counters of API requests since start or resetStats(). */
  stats(): Stats
  /** The last 10,000 API requests received, oldest first. */
  requests(): RequestLogEntry[]
  /** Zeroes stats and the request log. */
  resetStats(): void
}

/** Builds the data, starts listening, and resolves when ready. */
export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const clock = opts.clock ?? Date.now
  const seed = opts.seed ?? 1
  const org = opts.org ?? 123
  const token = opts.token ?? 'test-token'
  const endMs = opts.end ?? clock()
  const sources = {} as Record<SourceName, SourceData>
  for (const s of SOURCES) {
    const data = new SourceData(s, seed, org)
    const file = opts.datasets?.[s]
    if (file) data.load(readDataset(s, file))
    else data.generate(opts.counts?.[s] ?? 0, opts.days ?? 7, endMs)
    sources[s] = data
  }
  const state: EmulatorState = {
    org, token, clock, sources,
    switches: mergeSwitches(structuredClone(DEFAULT_SWITCHES) as Switches, opts.switches ?? {}),
    faults: new FaultEngine(mergeFaults({ ...DEFAULT_FAULTS }, opts.faults ?? {}), clock),
    stats: new StatsRecorder(),
    onRequest: opts.onRequest,
  }
  const fmt = (): RenderFormat => renderFormat(state.switches)
  const inject = (source: SourceName, n: number, o: { lateSeconds?: number; at?: number } = {}): object[] => {
    if (!SOURCES.includes(source)) throw new TypeError(`unknown source "${source}"`)
    const ids = sources[source].inject(n, clock(), { lateSeconds: o.lateSeconds, atMs: o.at })
    const f = fmt()
    return ids.map((id) => sources[source].render(id, f))
  }
  const late = (source: SourceName, n: number, r: { from: number; to: number }): object[] => {
    if (!SOURCES.includes(source)) throw new TypeError(`unknown source "${source}"`)
    if (!Number.isInteger(n) || n < 0) throw new TypeError('late needs a count n >= 0')
    if (!Number.isFinite(r.from) || !Number.isFinite(r.to) || r.from >= r.to || r.to > clock()) throw new TypeError('late needs from < to <= now (epoch ms or RFC 3339)')
    const ids = sources[source].backdate(n, r.from, r.to)
    const f = fmt()
    return ids.map((id) => sources[source].render(id, f))
  }
  const setFaults = (f: unknown): void => state.faults.update(f)
  const setSwitches = (s: unknown): void => { state.switches = mergeSwitches(state.switches, s) }
  const { server, timers } = createEmulatorServer(state, { inject, late, setFaults, setSwitches })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  const stopLive = opts.live ? startLive(opts.live, clock, seed, (s, n, late) => { inject(s, n, { lateSeconds: late }) }) : () => {}
  const addr = server.address() as AddressInfo
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  let closing: Promise<void> | undefined
  return {
    url: `http://${host}:${addr.port}`, org, token,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        stopLive()
        for (const t of timers) clearTimeout(t)
        timers.clear()
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closing
    },
    truth: (source, q) => [...iterTruth(state, source, q)],
    inject, late,
    setFaults, setSwitches,
    switches: () => structuredClone(state.switches),
    stats: () => state.stats.snapshot(),
    requests: () => state.stats.requests(),
    resetStats: () => state.stats.reset(),
  }
}
