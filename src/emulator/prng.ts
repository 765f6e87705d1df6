// Small deterministic PRNG helpers (no state at module level).

/** Mixes integers into one well-spread uint32 (murmur3 finaliser style). */
export function mix(...xs: number[]): number {
  let h = 0x9e3779b9
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 0x85ebca6b)
    h ^= h >>> 13
    h = Math.imul(h, 0xc2b2ae35)
    h ^= h >>> 16
    // fold in the high part of non-32-bit numbers
    const hi = Math.floor(x / 4294967296) >>> 0
    if (hi !== 0) h = Math.imul(h ^ hi, 0x27d4eb2f) ^ (h >>> 15)
  }
  return h >>> 0
}

/** A seeded generator of floats in [0,1) (mulberry32) with convenience helpers. */
export class Rng {
  #s: number
  constructor(seed: number) { this.#s = seed >>> 0 }
  /** Float in [0,1). */
  next(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0
    let t = this.#s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  /** Integer in [0, n). */
  int(n: number): number { return Math.floor(this.next() * n) }
  /** One element of a non-empty array. */
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)] }
  /** True with probability p. */
  chance(p: number): boolean { return p > 0 && this.next() < p }
  /** `n` lowercase hex digits. */
  hex(n: number): string {
    let s = ''
    while (s.length < n) s += (this.int(0x10000)).toString(16).padStart(4, '0')
    return s.slice(0, n)
  }
  /** `n` decimal digits (first one non-zero). */
  digits(n: number): string {
    let s = String(1 + this.int(9))
    while (s.length < n) s += String(this.int(10))
    return s
  }
}
