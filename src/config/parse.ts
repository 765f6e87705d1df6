/**
 * Parsers of option values: each turns one option's text into its value or into messages naming the option and the
 * bad value. Pure (no disk, no clock: `now`, `cwd` and the zone come in the context), so they are table-tested.
 */
import { isAbsolute, resolve } from 'node:path'
import { DateTime, IANAZone } from '../dates.js'
import { parseDuration, type Micros } from '../time.js'

/** What a parser knows besides the text: the flag it reads (for messages), the working directory, now, the zone. */
export interface ParseContext {
  readonly flag: string
  readonly cwd: string
  readonly now: number
  /** IANA zone dates and "today" are read in (the already-parsed --timezone). */
  readonly zone: string
}

/** A parsed value, or the messages saying why not (with what could be kept, so later rules see no phantom problem). */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly messages: readonly string[]; readonly partial?: T }

/** Turns the (trimmed) text of one option into its value. */
export type Parser<T> = (text: string, ctx: ParseContext) => Parsed<T>

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value })
const fail = <T>(...messages: string[]): Parsed<T> => ({ ok: false, messages })

/** Blank text means "not set" (undefined); anything else goes to `p`. */
export function optional<T>(p: Parser<T>): Parser<T | undefined> {
  return (text, ctx) => (text === '' ? ok(undefined) : p(text, ctx))
}

/** Any text, as given. */
export function text(): Parser<string> {
  return (t) => ok(t)
}

/** An integer in [min, max]. */
export function int(min: number, max: number): Parser<number> {
  return (t, { flag }) => (/^\d+$/.test(t) && Number(t) >= min && Number(t) <= max ? ok(Number(t)) : fail(`--${flag} must be an integer from ${min} to ${max}, got "${t}"`))
}

/** A positive safe integer; `what` names it ("the organisation id"), `where` says where it is set. */
export function positiveInt(what: string, where: string): Parser<number> {
  return (t) => (/^\d+$/.test(t) && Number.isSafeInteger(Number(t)) && Number(t) > 0 ? ok(Number(t)) : fail(`${what} must be a positive integer, got "${t}" (${where})`))
}

const DURATION_FORMS = 'accepted: 500ms, 30s, 15m, 12h, 90d, 1w'

/**
 * A duration with its unit (`500ms`, `30s`, `2m`, `12h`, `90d`, `1w`; `0` alone), in milliseconds. A bare number is
 * refused: the Python script read `15` as minutes, earlier versions of this tool as seconds.
 */
export function duration(): Parser<number> {
  return (t, { flag }) => {
    if (/^\d+$/.test(t) && Number(t) !== 0) {
      return fail(`--${flag} ${t} has no unit (the Python script read minutes, earlier versions of this tool seconds): write ${t}m, ${Number(t) * 60}s or ${t}s; ${DURATION_FORMS}`)
    }
    const ms = parseDuration(t)
    return ms === undefined ? fail(`--${flag} must be a duration like 30s, 2m, 12h or 90d, got "${t}"`) : ok(ms)
  }
}

const UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, k: 1024, kb: 1000, kib: 1024, m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3 }

/** A size in bytes: 32MiB, 512KiB, 1GB, 65536; at least 1 KiB (below it no page fits) and at most 4 GiB. */
export function byteSize(): Parser<number> {
  return (t, { flag }) => {
    const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(t)
    const unit = m === null ? undefined : UNITS[m[2].toLowerCase()]
    const n = m === null || unit === undefined ? NaN : Math.round(Number(m[1]) * unit)
    return Number.isFinite(n) && n >= 1024 && n <= 4 * 1024 ** 3 ? ok(n) : fail(`--${flag} must be a size from 1KiB to 4GiB like 32MiB, 512KiB or 65536 (bytes), got "${t}"`)
  }
}

/** "a, b or c" */
function orList(values: readonly string[]): string {
  return values.length < 2 ? values.join('') : `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`
}

/** One of `values`; `described` replaces the default "a, b or c" in the message. */
export function oneOf<T extends string>(values: readonly T[], described = orList(values)): Parser<T> {
  return (t, { flag }) => ((values as readonly string[]).includes(t) ? ok(t as T) : fail(`--${flag} must be ${described}, got "${t}"`))
}

const items = (t: string): string[] => t.split(',').map((s) => s.trim()).filter((s) => s !== '')

/** A comma-separated list; blank items are dropped and an empty list means "not set". */
export function list(): Parser<string[] | undefined> {
  return (t) => {
    const all = items(t)
    return ok(all.length > 0 ? all : undefined)
  }
}

/** `source:sha256` pairs (chain heads kept outside the archive), comma-separated; one head per source. */
export function sealHeads(sources: readonly string[]): Parser<Readonly<Record<string, string>> | undefined> {
  return (t, { flag }) => {
    const out: Record<string, string> = {}
    const bad: string[] = []
    for (const item of items(t)) {
      const m = /^([a-z]+):([0-9a-f]{64})$/.exec(item.toLowerCase())
      if (m === null || !sources.includes(m[1]) || out[m[1]] !== undefined) bad.push(`--${flag}: "${item}" is not <source>:<64 hex digits> of a source named once (${sources.join(', ')})`)
      else out[m[1]] = m[2]
    }
    return bad.length > 0 ? fail(...bad) : ok(Object.keys(out).length > 0 ? out : undefined)
  }
}

/** A comma-separated subset of `known`, in the order given; each unknown item is a message of its own. */
export function subsetOf<T extends string>(known: readonly T[], noun: string): Parser<T[] | undefined> {
  return (t, ctx) => {
    const all = items(t)
    const good = all.filter((i): i is T => (known as readonly string[]).includes(i))
    const bad = all.filter((i) => !(known as readonly string[]).includes(i))
    const value = all.length > 0 ? good : undefined
    if (bad.length === 0) return ok(value)
    return { ok: false, partial: value, messages: bad.map((b) => `--${ctx.flag}: unknown ${noun} "${b}" (known: ${known.join(', ')})`) }
  }
}

/** One value, not a list (`noun` says of what: "address"). */
export function single(noun: string): Parser<string> {
  return (t, { flag }) => (t.includes(',') ? fail(`--${flag} takes one ${noun}, got "${t}"`) : ok(t))
}

/** A part of a file name: no path separator, no `..`, no NUL (they would let a name write outside its directory). */
export function fileNamePart(what: string): Parser<string> {
  return (t) => (t === '' || /[/\\\0]/.test(t) || t.includes('..') ? fail(`${what} "${t.replace(/\0/g, '\\0')}" must be a plain file name part (no /, \\, .. or NUL)`) : ok(t))
}

/** A file path, made absolute against the working directory. */
export function path(): Parser<string> {
  return (t, { cwd }) => ok(isAbsolute(t) ? t : resolve(cwd, t))
}

/** A file path made absolute, or `-` (stdout) kept as it is. */
export function fileOrStdout(): Parser<string> {
  return (t, ctx) => (t === '-' ? ok('-') : path()(t, ctx))
}

/** A directory, absolute, without trailing separators (the Python script's fault 9: `dir/` doubled the slash). */
export function directory(): Parser<string> {
  return (t, { cwd }) => ok(resolve(cwd, t.replace(/[/\\]+$/, '') || '/'))
}

/** An IANA time zone. */
export function zone(): Parser<string> {
  // UTC (the default) needs no check: validating a zone loads the ICU time zone data (~45 ms of start-up).
  return (t, { flag }) => (t === 'UTC' || IANAZone.isValidZone(t) ? ok(t) : fail(`--${flag} must be an IANA zone like Europe/Moscow, got "${t}"`))
}

/** Hosts plain http: may reach (the emulator, a local proxy): nothing else sees the token in clear. */
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i

/** An API base URL: https (plain http only for loopback), no credentials; returned without trailing slashes. */
export function url(): Parser<string> {
  return (t, { flag }) => {
    let u: URL
    try {
      u = new URL(t)
    } catch {
      return fail(`--${flag} is not a URL: "${t}"`)
    }
    const messages: string[] = []
    if (u.username !== '' || u.password !== '') messages.push(`--${flag} must not contain credentials`)
    if (u.protocol === 'http:' && !LOOPBACK.test(u.hostname)) messages.push(`--${flag} must use https: (plain http: is allowed only for loopback addresses), got ${u.origin}`)
    else if (u.protocol !== 'https:' && u.protocol !== 'http:') messages.push(`--${flag} must be an https: URL, got ${u.protocol}`)
    return messages.length > 0 ? fail(...messages) : ok(u.origin + u.pathname.replace(/\/+$/, ''))
  }
}

/** Parses --since/--until: ISO instant or date (start of that day in `zone`), -7d / -12h, now, today, yesterday. */
export function parseTimePoint(text: string, zone: string, now: number): Micros | undefined {
  const t = text.trim()
  const local = DateTime.fromMillis(now, { zone })
  if (t === 'now') return now * 1000
  if (t === 'today') return local.startOf('day').toMillis() * 1000
  if (t === 'yesterday') return local.minus({ days: 1 }).startOf('day').toMillis() * 1000
  const rel = /^-(.+)$/.exec(t)
  if (rel !== null) {
    const ms = parseDuration(rel[1])
    return ms === undefined ? undefined : (now - ms) * 1000
  }
  const dt = DateTime.fromISO(t, { zone, setZone: false })
  if (!dt.isValid) return undefined
  const frac = /\.(\d{4,6})/.exec(t) // luxon keeps ms; keep µs when given
  const extraUs = frac === null ? 0 : Number(frac[1].padEnd(6, '0').slice(3, 6))
  return dt.toMillis() * 1000 + extraUs
}

/** A point in time (see parseTimePoint), in µs, read in the context's zone. */
export function timePoint(): Parser<Micros> {
  return (t, { flag, zone, now }) => {
    const us = parseTimePoint(t, zone, now)
    return us === undefined ? fail(`--${flag} must be an ISO date or instant, -7d / -12h, today or yesterday, got "${t}"`) : ok(us)
  }
}

/** A syslog receiver: `tcp://host:port` or `tls://host:port` (the CA file, if any, is read when the output opens). */
export interface SyslogUrl {
  readonly protocol: 'tcp' | 'tls'
  readonly host: string
  readonly port: number
}

/** A --syslog URL; `udp://` is refused: UDP loses messages without telling anyone, and this tool promises delivery. */
export function syslogUrl(): Parser<SyslogUrl> {
  return (t, { flag }) => {
    let u: URL
    try {
      u = new URL(t)
    } catch {
      return fail(`--${flag} must be a URL like tcp://siem.example:514 or tls://siem.example:6514, got "${t}"`)
    }
    if (u.protocol === 'udp:') return fail(`--${flag}: udp:// is refused: UDP drops messages silently (no acknowledgement, no resend); use tcp:// or tls:// (RFC 5425, port 6514)`)
    if (u.protocol !== 'tcp:' && u.protocol !== 'tls:') return fail(`--${flag} must start with tcp:// or tls://, got "${u.protocol}//"`)
    const messages: string[] = []
    if (u.username !== '' || u.password !== '') messages.push(`--${flag} must not contain credentials`)
    if (u.port === '') messages.push(`--${flag} needs a port (tcp://host:514, tls://host:6514), got "${t}"`)
    if (u.hostname === '') messages.push(`--${flag} needs a host, got "${t}"`)
    if ((u.pathname !== '' && u.pathname !== '/') || u.search !== '' || u.hash !== '') messages.push(`--${flag} takes scheme, host and port only, got "${t}"`)
    if (messages.length > 0) return fail(...messages)
    return ok({ protocol: u.protocol === 'tls:' ? 'tls' : 'tcp', host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port) })
  }
}
