/**
 * The syslog output (--syslog without archive directories): each record as one RFC 5424 message on a TCP or TLS
 * connection. Like --stdout, --state-file holds a cursor per source; it moves only over what the receiver
 * acknowledged (a clean close of the connection it came on, see sinks/syslog.ts), so a drop means resending, never loss.
 */
import { readFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { dirname } from 'node:path'
import type { Config, SourceConfig } from '../../config.js'
import { Y360Error } from '../../errors.js'
import type { Logger } from '../../log.js'
import { identityKey, isObject, recordText, type AuditRecord, type SourceStats } from '../../messages.js'
import { advanceCursor, DeliveryTracker, loadCursor, saveCursor, type Cursor } from '../../sinks/cursor.js'
import { scrubber } from '../../secrets.js'
import { frame, type Header } from '../../sinks/rfc5424.js'
import { Delivery, SyslogSink, showEndpoint, type DeliveryOptions, type SyslogEndpoint } from '../../sinks/syslog.js'
import type { SourceName } from '../../sources/descriptor.js'
import type { Micros } from '../../time.js'
import { DirLock } from '../lock.js'
import type { Output, SourceTarget } from '../output.js'

/** Where the vendor's identity of a record is, per source (the SD `id`); the content hash when absent. */
const ID_PATH: Readonly<Record<SourceName, readonly string[]>> = { mail: ['uniqId'], disk: ['uniqId'], events: ['event', 'idempotency_id'] }

/** The string at `path` in `data`, if there is a non-empty one. */
function idAt(data: unknown, path: readonly string[]): string | undefined {
  let v = data
  for (const k of path) v = isObject(v) ? v[k] : undefined
  return typeof v === 'string' && v !== '' ? v : undefined
}

/** Turns one record (its instant, its compact line, its parsed content) into a framed message. */
export type Formatter = (us: Micros, line: string, data: unknown) => Buffer

/** The framing of one source's records: MSGID the source, SD the organisation and the record's identity, MSG the line. */
export function formatter(cfg: Config, source: SourceName): Formatter {
  const header: Header = { facility: cfg.syslogFacility, severity: cfg.syslogSeverity, hostname: hostname(), appName: 'y360-audit' }
  const org = String(cfg.org)
  return (us, line, data) => {
    const id = idAt(data, ID_PATH[source]) ?? `sha256:${identityKey(data, line)}`
    return frame(header, { us, msgId: source, params: [['org', org], ['id', id]], msg: line })
  }
}

/** The receiver with its CA bundle read; an unreadable CA file is a configuration problem. */
export async function syslogEndpoint(cfg: Config): Promise<SyslogEndpoint> {
  const url = cfg.syslog as NonNullable<Config['syslog']>
  if (cfg.syslogCa === undefined) return url
  try {
    return { ...url, ca: await readFile(cfg.syslogCa, 'utf8') }
  } catch (err) {
    throw new Y360Error('CONFIG_INVALID', `cannot read the syslog CA file ${cfg.syslogCa} (--syslog-ca): ${(err as Error).message}`, { path: cfg.syslogCa }, { cause: err })
  }
}

/** Delivery options from the configuration, for one sender. */
export function deliveryOptions<T>(cfg: Config, ep: SyslogEndpoint, label: string, log: Logger, signal: AbortSignal, onAck: (marks: T[]) => void | Promise<void>): DeliveryOptions<T> {
  return { endpoint: ep, label, ackEvery: cfg.syslogAckEvery, retries: cfg.syslogRetries, retryDelayMs: cfg.syslogRetryDelayMs, timeoutMs: cfg.timeoutMs, log, signal, onAck }
}

/** Logs what one delivery did (the duplicates a receiver may hold are at most `resent`). */
export function logDelivery(log: Logger, label: string, ep: SyslogEndpoint, d: { acked: number; resent: number; reconnects: number }): void {
  log.info({ syslog: showEndpoint(ep), acknowledged: d.acked, resent: d.resent, reconnects: d.reconnects }, `${label}: syslog ${showEndpoint(ep)}: ${d.acked} records acknowledged, ${d.resent} sent again after ${d.reconnects} reconnection(s)`)
}

export class SyslogOutput implements Output {
  readonly mode = 'syslog'
  readonly #cfg: Config
  readonly #log: Logger
  readonly #now: () => number
  readonly #signal: AbortSignal
  readonly #trackers = new Map<string, DeliveryTracker>()
  readonly #deliveries = new Map<string, Delivery<readonly AuditRecord[]>>()
  #endpoint: SyslogEndpoint | undefined
  #cursor: Cursor | undefined
  #lock: DirLock | undefined

  constructor(cfg: Config, log: Logger, now: () => number, signal: AbortSignal) {
    this.#cfg = cfg
    this.#log = log
    this.#now = now
    this.#signal = signal
  }

  async open(): Promise<void> {
    this.#endpoint = await syslogEndpoint(this.#cfg)
    const path = this.#cfg.stateFile
    if (path === undefined) return
    this.#lock = DirLock.acquire(dirname(path), this.#log, { now: this.#now })
    this.#cursor = await loadCursor(path)
  }

  async source(src: SourceConfig, stats: SourceStats): Promise<SourceTarget> {
    const start = this.#cursor?.get(src.name)
    const tracker = new DeliveryTracker(start, this.#cfg.overlapMs * 1000)
    this.#trackers.set(src.name, tracker)
    const format = formatter(this.#cfg, src.name)
    const ep = this.#endpoint as SyslogEndpoint
    const delivery = new Delivery<readonly AuditRecord[]>(deliveryOptions(this.#cfg, ep, src.name, this.#log, this.#signal, (marks) => marks.forEach((m) => tracker.delivered(m))))
    this.#deliveries.set(src.name, delivery)
    return {
      resume: start?.resumeUs,
      where: this.#cfg.stateFile === undefined ? 'no state file' : `state file ${this.#cfg.stateFile}`,
      seed: () => new Map(start?.keys),
      sink: () => ({ mode: 'syslog', sink: new SyslogSink(delivery, (r) => {
        const text = recordText(r)
        return format(r.us, text, JSON.parse(text))
      }, stats) }),
    }
  }

  quietEnd(): boolean {
    return false
  }

  /** Saves what was acknowledged, also after a failure or a signal: acknowledged records were delivered. */
  async commit(): Promise<void> {
    for (const [name, d] of this.#deliveries) logDelivery(this.#log, name, this.#endpoint as SyslogEndpoint, d)
    const path = this.#cfg.stateFile
    if (path === undefined || this.#cursor === undefined) return
    const changed = advanceCursor(this.#cursor, this.#trackers)
    if (!changed) return
    this.#lock?.check()
    await saveCursor(path, this.#cursor, this.#now(), scrubber([this.#cfg.token]))
  }

  close(): void {
    for (const d of this.#deliveries.values()) d.destroy()
    this.#lock?.release()
    this.#lock = undefined
  }
}
