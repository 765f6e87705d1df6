// Fault settings and the per-request fault decisions (seeded, so a fault sequence is reproducible).
import { Rng } from './prng.js'

/** Fault injection settings; probabilities are per API request unless noted. */
export interface Faults {
  /** Fixed delay (ms) before each API response. */
  latencyMs: number
  /** Extra random delay in [0, jitterMs) ms. */
  jitterMs: number
  /** > 0: above this many API requests in a sliding 1 s window (by the emulator clock), answer 429. */
  rateLimitRps: number
  /** Form of the 429's Retry-After header. */
  retryAfter: 'seconds' | 'http-date' | 'none'
  /** Value of Retry-After in seconds. */
  retryAfterSeconds: number
  /** Probability of a 500/502/503 JSON error. */
  error5xx: number
  /** Probability of an nginx-style HTML 502 page (text/html). */
  html502: number
  /** Probability of sending headers and part of the body, then destroying the socket. */
  reset: number
  /** Probability of a complete response (valid framing) whose JSON body is cut short. */
  truncated: number
  /** Probability of never answering (the socket stays open until the client gives up or close()). */
  stall: number
  /** Probability of an empty page that still carries a next token (continuing at the same offset). */
  emptyPageWithToken: number
  /** Probability per record of serving it without its timestamp field. */
  missingTimestamp: number
  /** Probability of a 200 whose chunked body never ends (bytes counted in stats.hostileBytesSent). */
  endlessBody: number
  /** Probability of a good page sent one byte every `dripMs` (Content-Length set, so it looks healthy). */
  dripBody: number
  /** Probability of `102 Processing` every `dripMs`, never followed by a final response. */
  processing: number
  /** Interval (ms) of dripBody bytes and processing responses. */
  dripMs: number
  /** Seed of the fault PRNG; setting it restarts the sequence. */
  seed: number
}

/** Names of counted fault injections. */
export type FaultKind = 'latency' | 'rateLimited' | 'error5xx' | 'html502' | 'reset' | 'truncated' | 'stall' | 'emptyPageWithToken' | 'missingTimestamp' | 'endlessBody' | 'dripBody' | 'processing'

/** All counted fault kinds. */
export const FAULT_KINDS: readonly FaultKind[] = ['latency', 'rateLimited', 'error5xx', 'html502', 'reset', 'truncated', 'stall', 'emptyPageWithToken', 'missingTimestamp', 'endlessBody', 'dripBody', 'processing']

/** No faults. */
export const DEFAULT_FAULTS: Readonly<Faults> = Object.freeze({
  latencyMs: 0, jitterMs: 0, rateLimitRps: 0, retryAfter: 'seconds', retryAfterSeconds: 1, error5xx: 0, html502: 0,
  reset: 0, truncated: 0, stall: 0, emptyPageWithToken: 0, missingTimestamp: 0, endlessBody: 0, dripBody: 0, processing: 0, dripMs: 1000, seed: 1,
})

const prob = (v: unknown): boolean => typeof v === 'number' && v >= 0 && v <= 1
const nonNeg = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0
const CHECKS: Record<keyof Faults, (v: unknown) => boolean> = {
  latencyMs: nonNeg, jitterMs: nonNeg, rateLimitRps: nonNeg, retryAfterSeconds: nonNeg,
  retryAfter: (v) => v === 'seconds' || v === 'http-date' || v === 'none',
  error5xx: prob, html502: prob, reset: prob, truncated: prob, stall: prob, emptyPageWithToken: prob, missingTimestamp: prob,
  endlessBody: prob, dripBody: prob, processing: prob, dripMs: (v) => nonNeg(v) && (v as number) >= 1,
  seed: (v) => Number.isInteger(v),
}

/** Returns `cur` updated by `patch`; throws TypeError naming every unknown key or bad value. */
export function mergeFaults(cur: Faults, patch: unknown): Faults {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw new TypeError('faults must be a JSON object')
  const problems: string[] = []
  for (const [k, v] of Object.entries(patch)) {
    const check = CHECKS[k as keyof Faults]
    if (!check) problems.push(`unknown fault "${k}"`)
    else if (!check(v)) problems.push(`bad value for fault "${k}": ${JSON.stringify(v)}`)
  }
  if (problems.length) throw new TypeError(problems.join('; '))
  return { ...cur, ...(patch as Partial<Faults>) }
}

/** What to do with one API request before it is answered normally. */
export type PreFault = { kind: 'rateLimited' } | { kind: 'stall' } | { kind: 'endlessBody' } | { kind: 'processing' } | { kind: 'error5xx'; status: 500 | 502 | 503 } | { kind: 'html502' } | null
/** How to damage an otherwise good page response. */
export type PostFault = 'reset' | 'truncated' | 'dripBody' | null

/** Draws fault decisions from a seeded PRNG and applies the sliding-window rate limit. */
export class FaultEngine {
  #faults: Faults
  #rng: Rng
  #window: number[] = []
  constructor(faults: Faults, private readonly clock: () => number) {
    this.#faults = faults
    this.#rng = new Rng(faults.seed)
  }
  /** Current settings. */
  get faults(): Faults { return this.#faults }
  /** Applies a patch (validated); a `seed` in it restarts the sequence. */
  update(patch: unknown): void {
    this.#faults = mergeFaults(this.#faults, patch)
    if (typeof patch === 'object' && patch !== null && 'seed' in patch) this.#rng = new Rng(this.#faults.seed)
    this.#window = []
  }
  #hit(p: number): boolean { return p > 0 && (p >= 1 || this.#rng.next() < p) }
  /** Delay (ms) to add before answering. */
  delayMs(): number {
    const f = this.#faults
    return f.latencyMs + (f.jitterMs > 0 ? this.#rng.next() * f.jitterMs : 0)
  }
  /** Decides the transport-level fault for a request that just arrived. */
  pre(): PreFault {
    const f = this.#faults
    if (f.rateLimitRps > 0) {
      const now = this.clock()
      while (this.#window.length && this.#window[0] <= now - 1000) this.#window.shift()
      if (this.#window.length >= f.rateLimitRps) return { kind: 'rateLimited' }
      this.#window.push(now)
    }
    if (this.#hit(f.stall)) return { kind: 'stall' }
    if (this.#hit(f.endlessBody)) return { kind: 'endlessBody' }
    if (this.#hit(f.processing)) return { kind: 'processing' }
    if (this.#hit(f.error5xx)) return { kind: 'error5xx', status: ([500, 502, 503] as const)[this.#rng.int(3)] }
    if (this.#hit(f.html502)) return { kind: 'html502' }
    return null
  }
  /** Whether this page comes back empty with a token. */
  emptyPage(): boolean { return this.#hit(this.#faults.emptyPageWithToken) }
  /** Whether this record loses its timestamp. */
  dropTimestamp(): boolean { return this.#hit(this.#faults.missingTimestamp) }
  /** Decides damage to a good page response. */
  post(): PostFault {
    if (this.#hit(this.#faults.reset)) return 'reset'
    if (this.#hit(this.#faults.truncated)) return 'truncated'
    if (this.#hit(this.#faults.dripBody)) return 'dripBody'
    return null
  }
  /** Value for Retry-After, or undefined for none. */
  retryAfter(): string | undefined {
    const f = this.#faults
    if (f.retryAfter === 'none') return undefined
    if (f.retryAfter === 'seconds') return String(Math.ceil(f.retryAfterSeconds))
    return new Date(this.clock() + f.retryAfterSeconds * 1000).toUTCString()
  }
}
