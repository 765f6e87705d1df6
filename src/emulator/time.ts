// Instants are integer microseconds since the epoch (fits a double exactly until year 2255).

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/

/** Parses an RFC 3339 / ISO 8601 timestamp with `Z` or `±HH:MM` (fraction up to 9 digits, cut to µs) to µs; undefined if malformed. */
export function parseInstantUs(s: string): number | undefined {
  const m = RFC3339.exec(s)
  if (!m) return undefined
  const [, y, mo, d, h, mi, se, frac, off] = m
  const Y = +y, M = +mo, D = +d, H = +h, MI = +mi, S = +se
  if (M < 1 || M > 12 || D < 1 || H > 23 || MI > 59 || S > 59) return undefined
  const ms = Date.UTC(Y, M - 1, D, H, MI, S)
  if (new Date(ms).getUTCDate() !== D) return undefined // e.g. 2025-02-30
  let offMin = 0
  if (off !== 'Z') {
    const oh = +off.slice(1, 3), om = +off.slice(4, 6)
    if (oh > 23 || om > 59) return undefined
    offMin = (oh * 60 + om) * (off[0] === '-' ? -1 : 1)
  }
  const us = frac ? Number(frac.slice(0, 6).padEnd(6, '0')) : 0
  return (ms - offMin * 60000) * 1000 + us
}

/** Parses either an epoch-ms number (string of digits) or an RFC 3339 timestamp, to µs. */
export function parseMsOrIsoToUs(s: string): number | undefined {
  if (/^-?\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000)
  return parseInstantUs(s)
}

function isoSeconds(us: number): string {
  return new Date(Math.floor(us / 1e6) * 1000).toISOString().slice(0, 19)
}

/** Mail form `YYYY-MM-DDTHH:MM:SS.sssZ`; fraction omitted when zero and `omitZero`. */
export function formatMail(us: number, omitZero: boolean): string {
  const ms = Math.floor(us / 1000)
  const frac = ((ms % 1000) + 1000) % 1000
  if (frac === 0 && omitZero) return isoSeconds(us) + 'Z'
  return isoSeconds(us) + '.' + String(frac).padStart(3, '0') + 'Z'
}

/** Disk form `YYYY-MM-DDTHH:MM:SSZ`. */
export function formatDisk(us: number): string {
  return isoSeconds(us) + 'Z'
}

/** Unified form `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`; fraction omitted when zero and `omitZero` (Python isoformat). */
export function formatEvents(us: number, omitZero: boolean): string {
  const frac = ((us % 1e6) + 1e6) % 1e6
  if (frac === 0 && omitZero) return isoSeconds(us) + '+00:00'
  return isoSeconds(us) + '.' + String(frac).padStart(6, '0') + '+00:00'
}

/** Microsecond precision of each source's timestamps (1 ms for mail, 1 s for disk, 1 µs for events). */
export const PRECISION_US = Object.freeze({ mail: 1000, disk: 1_000_000, events: 1 })
