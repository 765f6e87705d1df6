/** Instants are integer microseconds since the Unix epoch (safe in a double until the year 2255). */
export type Micros = number

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:?\d{2})?$/

/** Parses an RFC 3339 / ISO 8601 timestamp (any fraction length, Z or ±hh:mm) to µs; undefined if malformed. */
export function parseInstant(text: unknown): Micros | undefined {
  if (typeof text !== 'string') return undefined
  return fastInstant(text) ?? parseInstantByPattern(text)
}

/** `parseInstant` by the full pattern: every form it accepts (the fast path below takes the APIs' own forms). */
export function parseInstantByPattern(text: string): Micros | undefined {
  const m = RFC3339.exec(text)
  if (m === null) return undefined
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])
  // Reject impossible fields (month 0 or 13, Feb 30, hour 24): Date.UTC would silently roll them into another instant.
  const daysInMonth = new Date(Date.UTC(+m[1], +m[2], 0)).getUTCDate()
  if (Number.isNaN(ms) || +m[2] < 1 || +m[2] > 12 || +m[3] < 1 || +m[3] > daysInMonth || +m[4] > 23 || +m[5] > 59 || +m[6] > 60) return undefined
  let us = ms * 1000
  if (m[7] !== undefined) us += Number(m[7].slice(0, 6).padEnd(6, '0'))
  const zone = m[8]
  if (zone !== undefined && zone !== 'Z' && zone !== 'z') {
    const sign = zone[0] === '-' ? -1 : 1
    const digits = zone.slice(1).replace(':', '')
    us -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000_000
  }
  return us
}

/** The number written by the `n` digits at `s[i]`, or -1 when one of them is not a digit. */
function digitsAt(s: string, i: number, n: number): number {
  let v = 0
  for (let k = i; k < i + n; k++) {
    const d = s.charCodeAt(k) - 48
    if (d < 0 || d > 9) return -1
    v = v * 10 + d
  }
  return v
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
const daysIn = (y: number, month: number): number => (month === 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : MONTH_DAYS[month - 1])
/** µs of each of the first six fraction digits. */
const FRACTION_US = [100_000, 10_000, 1000, 100, 10, 1]

/**
 * The forms the audit APIs send, read without the pattern (it cost ~3% of a run's CPU): `YYYY-MM-DDTHH:MM:SS`, an
 * optional fraction of 1–9 digits, then `Z` or `+00:00`. Anything else, or an unusual value (second 60), is undefined
 * here and left to `parseInstantByPattern`, which decides exactly as before.
 */
function fastInstant(s: string): Micros | undefined {
  const n = s.length
  if (n < 20 || s.charCodeAt(4) !== 0x2d || s.charCodeAt(7) !== 0x2d || s.charCodeAt(10) !== 0x54 || s.charCodeAt(13) !== 0x3a || s.charCodeAt(16) !== 0x3a) return undefined
  const y = digitsAt(s, 0, 4)
  const mo = digitsAt(s, 5, 2)
  const d = digitsAt(s, 8, 2)
  const h = digitsAt(s, 11, 2)
  const mi = digitsAt(s, 14, 2)
  const sec = digitsAt(s, 17, 2)
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 || d > daysIn(y, mo)) return undefined
  let i = 19
  let frac = 0
  if (s.charCodeAt(i) === 0x2e) {
    let k = i + 1
    for (; k < n; k++) {
      const c = s.charCodeAt(k) - 48
      if (c < 0 || c > 9) break
      if (k - i - 1 < 6) frac += c * FRACTION_US[k - i - 1]
    }
    if (k === i + 1 || k - i - 1 > 9) return undefined
    i = k
  }
  const utc = (n - i === 1 && s.charCodeAt(i) === 0x5a) || (n - i === 6 && s.startsWith('+00:00', i))
  return utc ? Date.UTC(y, mo - 1, d, h, mi, sec) * 1000 + frac : undefined
}

function isoBase(us: Micros): { base: string; frac: string } {
  const ms = Math.floor(us / 1000)
  const iso = new Date(ms).toISOString() // YYYY-MM-DDTHH:MM:SS.sssZ
  const micro = String(us - ms * 1000).padStart(3, '0')
  return { base: iso.slice(0, 19), frac: iso.slice(20, 23) + micro }
}

/** `YYYY-MM-DDTHH:MM:SS.sssZ` (ms precision, truncated). */
export function formatMillis(us: Micros): string {
  const { base, frac } = isoBase(us)
  return `${base}.${frac.slice(0, 3)}Z`
}

/** `YYYY-MM-DDTHH:MM:SS.ffffff+00:00` (µs precision). */
export function formatMicros(us: Micros): string {
  const { base, frac } = isoBase(us)
  return `${base}.${frac}+00:00`
}

/** Human form for logs: ISO with µs only when not whole ms. */
export function show(us: Micros): string {
  return us % 1000 === 0 ? new Date(us / 1000).toISOString() : formatMicros(us)
}

/** UTC day `YYYY-MM-DD` of an instant. */
export function utcDay(us: Micros): string {
  return new Date(Math.floor(us / 1000)).toISOString().slice(0, 10)
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** Parses `500ms`, `30s`, `2m`, `12h`, `90d`, `1w` (and `0`) to milliseconds; undefined if malformed or without a unit. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim()
  if (/^0+$/.test(t)) return 0
  const m = DURATION.exec(t)
  return m === null ? undefined : Math.round(Number(m[1]) * UNIT_MS[m[2]])
}

/** Short human duration for logs and summaries. */
export function showDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)}s`
  if (ms < 7_200_000) return `${(ms / 60_000).toFixed(1)}m`
  if (ms < 172_800_000) return `${(ms / 3_600_000).toFixed(1)}h`
  return `${(ms / 86_400_000).toFixed(1)}d`
}
