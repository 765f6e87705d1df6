/**
 * Syslog delivery over TCP or TLS (RFC 5425/6587 octet-counted frames). A Delivery keeps every frame sent since the
 * last acknowledgement (its tail); the acknowledgement is a clean close: our end(), then the receiver's FIN, no error.
 * A connection that drops is opened again with backoff and the whole tail is sent again (at least once), so the tail
 * is bounded (`ackEvery` records or MAX_TAIL_BYTES) and so are the duplicates. SyslogSink feeds a Delivery from the
 * pipeline and awaits each write, so a slow receiver slows the fetching.
 */
import { once } from 'node:events'
import { connect as netConnect, isIP, type Socket } from 'node:net'
import { Writable } from 'node:stream'
import { setTimeout as delay } from 'node:timers/promises'
import { connect as tlsConnect } from 'node:tls'
import { Y360Error } from '../errors.js'
import type { Logger } from '../log.js'
import type { AuditRecord, SinkChunk, SourceStats } from '../messages.js'
import { isStop } from './stdout.js'

/** Where messages go: `tcp://host:port` or `tls://host:port` (with the CA bundle that signs the receiver's certificate). */
export interface SyslogEndpoint {
  readonly protocol: 'tcp' | 'tls'
  readonly host: string
  readonly port: number
  /** PEM text of the CA(s) to trust instead of the system's; undefined = the system's. */
  readonly ca?: string
}

/** The longest tail kept for resending, whatever `ackEvery` says. */
export const MAX_TAIL_BYTES = 8 * 1024 * 1024
const MAX_RETRY_DELAY_MS = 30_000

/** The endpoint as a URL for messages. */
export function showEndpoint(ep: SyslogEndpoint): string {
  return `${ep.protocol}://${ep.host.includes(':') ? `[${ep.host}]` : ep.host}:${ep.port}`
}

/** A refused certificate will be refused again: not worth a retry. */
function isPermanent(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code)
}

/** One connection to the receiver, and whether it is still good (no error, no FIN from the receiver). */
class Connection {
  readonly #socket: Socket
  #broken: Error | undefined
  readonly #closed: Promise<void>

  private constructor(socket: Socket) {
    this.#socket = socket
    this.#closed = new Promise((resolve) => socket.once('close', () => resolve()))
    socket.on('error', (err) => (this.#broken ??= err))
    // The receiver closing first may have dropped what it had not read: the tail is sent again.
    socket.on('end', () => (this.#broken ??= Object.assign(new Error('the receiver closed the connection'), { code: 'ECONNRESET' })))
  }

  /** Connects (and for TLS completes the handshake with certificate and host-name checks). */
  static async open(ep: SyslogEndpoint, timeoutMs: number): Promise<Connection> {
    const socket = ep.protocol === 'tls'
      ? tlsConnect({ host: ep.host, port: ep.port, ca: ep.ca, servername: isIP(ep.host) === 0 ? ep.host : undefined })
      : netConnect({ host: ep.host, port: ep.port })
    // Inactivity (a receiver that neither reads nor closes) ends the connection; its tail is sent again elsewhere.
    socket.setTimeout(timeoutMs, () => socket.destroy(Object.assign(new Error(`no progress for ${timeoutMs}ms`), { code: 'ETIMEDOUT' })))
    try {
      await once(socket, ep.protocol === 'tls' ? 'secureConnect' : 'connect')
    } catch (err) {
      socket.destroy()
      throw err
    }
    return new Connection(socket)
  }

  /** Resolves once the bytes were handed to the kernel. */
  write(bytes: Buffer): Promise<void> {
    if (this.#broken !== undefined) return Promise.reject(this.#broken)
    return new Promise((resolve, reject) => this.#socket.write(bytes, (err) => (err ? reject(err) : resolve())))
  }

  /** The acknowledgement: our FIN, then the receiver's, without an error on the way. */
  async end(): Promise<void> {
    // A FIN the receiver sent earlier (it stopped) may still wait in the event loop (a busy or paused process): let
    // one poll phase run first, so it is not taken for the answer to ours.
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
    if (this.#broken !== undefined) throw this.#broken
    this.#socket.removeAllListeners('end').on('end', () => undefined)
    this.#socket.end()
    await this.#closed
    if (this.#broken !== undefined) throw this.#broken
  }

  destroy(): void {
    this.#socket.destroy()
  }
}

export interface DeliveryOptions<T> {
  endpoint: SyslogEndpoint
  /** Names the sender in messages ("mail", "mail forwarder"). */
  label: string
  /** Records per connection before it is closed cleanly (the acknowledgement). */
  ackEvery: number
  /** Reconnections after a failure before giving up (SYSLOG_FAILED). */
  retries: number
  /** First backoff; doubles each attempt, at most 30s. */
  retryDelayMs: number
  timeoutMs: number
  log: Logger
  signal?: AbortSignal
  /** Called with the marks of the frames just acknowledged, oldest first. */
  onAck: (marks: T[]) => void | Promise<void>
}

interface TailEntry<T> {
  bytes: Buffer
  count: number
  mark: T
  /** Already written to some connection: writing it again is a resend. */
  tried: boolean
}

/** Sends frames with at-least-once delivery; see the module comment. */
export class Delivery<T> {
  readonly #o: DeliveryOptions<T>
  #conn: Connection | undefined
  #tail: TailEntry<T>[] = []
  #sent = 0 // entries of the tail written on the current connection
  #count = 0
  #bytes = 0
  /** Records sent again after a drop (upper bound of the receiver's duplicates). */
  resent = 0
  /** Connections that failed and were opened again. */
  reconnects = 0
  /** Records acknowledged. */
  acked = 0

  constructor(o: DeliveryOptions<T>) {
    this.#o = o
  }

  /** Sends `bytes` (holding `count` records); acknowledges once the tail is long enough. */
  async push(bytes: Buffer, count: number, mark: T): Promise<void> {
    this.#tail.push({ bytes, count, mark, tried: false })
    this.#count += count
    this.#bytes += bytes.length
    await this.#sync(false)
    if (this.#count >= this.#o.ackEvery || this.#bytes >= MAX_TAIL_BYTES) await this.flush()
  }

  /** Closes the connection cleanly and acknowledges the tail. */
  async flush(): Promise<void> {
    if (this.#tail.length === 0) {
      this.destroy() // nothing unacknowledged rides on it
      return
    }
    await this.#sync(true)
    const marks = this.#tail.map((e) => e.mark)
    this.acked += this.#count
    this.#tail = []
    this.#count = 0
    this.#bytes = 0
    await this.#o.onAck(marks)
  }

  /** Drops the connection; the tail stays unacknowledged. */
  destroy(): void {
    this.#conn?.destroy()
    this.#conn = undefined
    this.#sent = 0
  }

  /** Writes what the current connection has not had (all of the tail on a new one), then closes it when `close`. */
  async #sync(close: boolean): Promise<void> {
    for (let failures = 0; ; failures++) {
      try {
        this.#conn ??= await Connection.open(this.#o.endpoint, this.#o.timeoutMs)
        for (; this.#sent < this.#tail.length; this.#sent++) {
          const e = this.#tail[this.#sent]
          if (e.tried) this.resent += e.count
          e.tried = true
          await this.#conn.write(e.bytes)
        }
        if (close) {
          await this.#conn.end()
          this.#conn = undefined
          this.#sent = 0
        }
        return
      } catch (err) {
        this.destroy()
        if (isPermanent(err) || failures >= this.#o.retries || this.#o.signal?.aborted === true) throw this.#failed(err, failures + 1)
        const wait = Math.min(this.#o.retryDelayMs * 2 ** failures, MAX_RETRY_DELAY_MS)
        this.reconnects++
        this.#o.log.warn({ syslog: showEndpoint(this.#o.endpoint), code: (err as { code?: string }).code, unacknowledged: this.#count }, `${this.#o.label}: syslog ${showEndpoint(this.#o.endpoint)}: ${(err as Error).message}; connecting again in ${wait}ms and sending the ${this.#count} unacknowledged records again`)
        await delay(wait, undefined, { signal: this.#o.signal })
      }
    }
  }

  #failed(err: unknown, attempts: number): Y360Error {
    const where = showEndpoint(this.#o.endpoint)
    const code = (err as { code?: string }).code
    const msg = isPermanent(err)
      ? `${this.#o.label}: the syslog server ${where} presented a certificate that was refused (${code}: ${(err as Error).message}); pass the CA that signed it with --syslog-ca and check that the certificate names the host`
      : `${this.#o.label}: cannot deliver to syslog ${where} after ${attempts} attempt(s): ${(err as Error).message}; the ${this.#count} unacknowledged records are sent again by the next run`
    return new Y360Error('SYSLOG_FAILED', msg, { source: this.#o.label }, { cause: err })
  }
}

/**
 * The pipeline's syslog sink: each window's records as one write of frames (from `format`), awaited before the next
 * window is taken. Marks are the records themselves, for the cursor. in: SinkChunk; rejected records are only counted.
 */
export class SyslogSink extends Writable {
  readonly #delivery: Delivery<readonly AuditRecord[]>
  readonly #format: (r: AuditRecord) => Buffer
  readonly #stats: SourceStats
  #inflight: Promise<void> | undefined

  constructor(delivery: Delivery<readonly AuditRecord[]>, format: (r: AuditRecord) => Buffer, stats: SourceStats) {
    super({ objectMode: true, highWaterMark: 1 })
    this.#delivery = delivery
    this.#format = format
    this.#stats = stats
  }

  override _write(chunk: SinkChunk, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const records = chunk.segments.flatMap((s) => s.records)
    this.#stats.rejected += chunk.rejected.length
    if (records.length === 0) return cb()
    const p = this.#delivery.push(Buffer.concat(records.map(this.#format)), records.length, records).then(() => {
      for (const s of chunk.segments) this.#stats.wrote(s)
    })
    this.#inflight = p.then(() => undefined, () => undefined)
    p.then(() => cb(), cb)
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#delivery.flush().then(() => cb(), cb)
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // A window being sent when another stage failed: let its write end (bounded by --timeout and the retries) and be
    // counted before the connection is dropped, unless the run is being stopped.
    const end = (): void => {
      this.#delivery.destroy()
      cb(err)
    }
    if (this.#inflight === undefined || isStop(err)) return end()
    void this.#inflight.then(end)
  }
}
