/**
 * RFC 5424 syslog messages framed by octet counting (RFC 6587 §3.4.1): `<len> <PRI>1 TIMESTAMP HOSTNAME APP-NAME
 * PROCID MSGID [SD] MSG`. Pure: the caller supplies every field, so the bytes are table-tested.
 */
import { formatMicros, type Micros } from '../time.js'

/** Facility names (RFC 5424 §6.2.1) → code. */
export const FACILITIES = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  ntp: 12, audit: 13, alert: 14, clock: 15, local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
} as const

/** Severity names → code. */
export const SEVERITIES = { emerg: 0, alert: 1, crit: 2, err: 3, warning: 4, notice: 5, info: 6, debug: 7 } as const

export type Facility = keyof typeof FACILITIES
export type Severity = keyof typeof SEVERITIES

/** SD-ID of our structured data: 32473 is the private enterprise number reserved for examples (RFC 5612). */
export const SD_ID = 'y360@32473'

/** What stays the same for every message of a run. */
export interface Header {
  facility: Facility
  severity: Severity
  /** HOSTNAME field (made printable by `headerField`). */
  hostname: string
  appName: string
}

/** One message's own fields. */
export interface Message {
  /** The record's instant: TIMESTAMP, in UTC with µs. */
  us: Micros
  /** MSGID (the source name). */
  msgId: string
  /** SD-PARAMs of our SD element, in order. */
  params: readonly (readonly [string, string])[]
  /** MSG: the record's compact JSON line. */
  msg: string
}

/** A header field: printable US-ASCII without spaces, at most `max` characters, `-` when empty (RFC 5424 §6). */
export function headerField(s: string, max: number): string {
  const clean = s.replace(/[^\x21-\x7e]/g, '').slice(0, max)
  return clean === '' ? '-' : clean
}

/** A PARAM-VALUE with `"`, `\` and `]` escaped (RFC 5424 §6.3.3). */
export function sdEscape(v: string): string {
  return v.replace(/["\\\]]/g, (c) => `\\${c}`)
}

/** `<PRI>` of a facility and severity. */
export function pri(facility: Facility, severity: Severity): number {
  return FACILITIES[facility] * 8 + SEVERITIES[severity]
}

/** The message without its frame. */
export function formatMessage(h: Header, m: Message): string {
  const ts = formatMicros(m.us).replace('+00:00', 'Z')
  const sd = `[${SD_ID}${m.params.map(([k, v]) => ` ${k}="${sdEscape(v)}"`).join('')}]`
  return `<${pri(h.facility, h.severity)}>1 ${ts} ${headerField(h.hostname, 255)} ${headerField(h.appName, 48)} - ${headerField(m.msgId, 32)} ${sd} ${m.msg}`
}

/** The message framed by octet counting: its length in bytes, a space, the message (no trailer). */
export function frame(h: Header, m: Message): Buffer {
  const body = Buffer.from(formatMessage(h, m), 'utf8')
  return Buffer.concat([Buffer.from(`${body.length} `, 'latin1'), body])
}
