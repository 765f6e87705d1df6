/** HTTP client for the audit-log APIs: undici keep-alive, OAuth header, timeouts, error mapping; p-retry runs the attempts, retry.ts decides. */
import { isUtf8 } from 'node:buffer'
import { setTimeout as sleep } from 'node:timers/promises'
import pRetry, { AbortError } from 'p-retry'
import type { Dispatcher } from 'undici'
import { Y360Error, sysCode } from '../errors.js'
import type { Logger } from '../log.js'
import { scrubber, type Scrub } from '../secrets.js'
import { nextToken, parsedRecords, walkedRecords, type EndpointDescriptor, type Page } from './descriptor.js'
import { serverText, type BoundedBody } from './bounded.js'
import { DeadlinePassed, http } from './http.js'
import type { HostLimiter } from './limiter.js'
import { walkPage } from './walk.js'
import { NETWORK_ERROR_CODES, TransientError, decideRetry, statusAction, type RetryPolicy } from './retry.js'

export interface ClientOptions {
  token: string
  retries: number // retries after the first attempt, for transient failures
  retryBaseMs: number // first backoff delay; doubles each time, with jitter
  retryMaxMs: number
  maxWaitMs: number // longest wait a 429 may impose before the run gives up (exit 75)
  timeoutMs: number // headers and body timeouts
  connectTimeoutMs: number
  /**
   * Connections kept per host (default 16). Give about twice the requests that may be in flight to a host: a lane's
   * next request is made the moment its previous one ends, before undici has given that one's socket back, and with
   * exactly as many connections as lanes it waited for it (~1 ms a request; 6% of a 30 ms run's time).
   */
  connections?: number
  /** Longest time one attempt may take in all, whatever the server sends meanwhile (1xx, a dripping body); default 3 × timeoutMs. */
  deadlineMs?: number
  /** Largest response body read (default 32 MiB); a larger page stops the run, a larger error body is quoted from its start. */
  maxBodyBytes?: number
  dispatcher?: Dispatcher
  log: Logger
  onRetry?: (source: string) => void
  /** Where the token came from, named when the API refuses it (default: the --token option and its variable). */
  tokenFrom?: string
  /** The clock the retry decision reads (Retry-After dates, time spent rate limited); tests inject a fake one. */
  now?: () => number
  /** Waits a backoff delay; tests inject a fake clock's advance. A 429's wait goes through the host's limiter instead. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  /** Jitter source in [0, 1) for the backoff. */
  random?: () => number
}

const realSleep = (ms: number, signal?: AbortSignal): Promise<void> => sleep(ms, undefined, { signal })

/** Default --max-body: a page of 100 records is well under 1 MiB. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024
/** Error bodies are read up to this (their message is quoted, at most MAX_SERVER_TEXT characters of it). */
const MAX_ERROR_BODY = 64 * 1024

/** The message of an error body, leniently (api360 `{code,message}`, cloud-api `{message|description|error}`), fit for a log line. */
function errorMessage(text: string): string {
  try {
    const b = JSON.parse(text) as Record<string, unknown>
    for (const k of ['message', 'description', 'error', 'error_description']) {
      if (typeof b[k] === 'string' && b[k] !== '') return serverText(b[k] as string)
    }
  } catch {
    // not JSON (an HTML error page, a body cut at MAX_ERROR_BODY): fall through to a short excerpt
  }
  return serverText(text, 200)
}

const showMs = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`)

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name]
  return Array.isArray(v) ? v[0] : v
}

/**
 * A 404: an unknown organisation (the API's message names it) or a path no method lives at, most often a base URL with
 * a path of its own (`Y360_CLOUD_API_URL=…/v1` asks `/v1/v1/auditlog/…`): the hint names what to fix.
 */
function notFound(ep: EndpointDescriptor, msg: string, rid: string, url: string, ctx: { source: string; status: number; requestId: string | undefined }): Y360Error {
  const path = new URL(url).pathname
  const method = /\/(security|v1\/auditlog)\/.*$/.exec(path)?.[0] ?? ''
  const prefix = path.slice(0, path.length - method.length)
  const option = ep.host === 'cloud' ? 'Y360_CLOUD_API_URL / --cloud-api-url' : 'Y360_API_URL / --api-url'
  if (/organi[sz]ation|\borg\b/i.test(msg) && prefix === '') {
    return new Y360Error('ORG_NOT_FOUND', `${ep.name}: organisation not found (404: ${msg}); check ORGANIZATION_ID_ARG / --org${rid}`, ctx)
  }
  const hint = prefix === '' ? `check ${option} (the host only, e.g. https://${ep.host === 'cloud' ? 'cloud-api' : 'api360'}.yandex.net) and ORGANIZATION_ID_ARG / --org` : `${option} ends in "${prefix}", but the tool adds the method's whole path (${method.replace(/\/organizations\/\d+|\/org\/\d+/, (m) => m.replace(/\d+$/, '{org}'))}) itself: give the host only`
  return new Y360Error('ORG_NOT_FOUND', `${ep.name}: the API has no method at ${path} (404: ${msg}); ${hint}${rid}`, ctx)
}

/** Turns a non-2xx, non-transient status into the error the user must act on. */
function fatalHttpError(ep: EndpointDescriptor, status: number, msg: string, requestId: string | undefined, url: string, tokenFrom = 'OAUTH_TOKEN_ARG / --token'): Y360Error {
  const ctx = { source: ep.name, status, requestId }
  const rid = requestId === undefined ? '' : ` (X-Request-Id ${requestId})`
  if (status === 401) {
    return new Y360Error('AUTH_FAILED', `${ep.name}: the API rejected the token (401: ${msg}); check ${tokenFrom}: it may be wrong or expired${rid}`, ctx)
  }
  if (status === 403) {
    return new Y360Error('SCOPE_MISSING', `${ep.name}: access denied (403: ${msg}); the token lacks scope ${ep.scope} or the user lacks the admin role: add the scope to the OAuth app and issue a new token${rid}`, ctx)
  }
  if (status === 404) return notFound(ep, msg, rid, url, ctx)
  if (status === 400 && /not active/i.test(msg)) {
    return new Y360Error('FEATURE_INACTIVE', `${ep.name}: the audit log is not enabled for this organisation (400: ${msg}); an admin must switch it on (it needs a plan that includes audit logs)${rid}`, ctx)
  }
  return new Y360Error('BAD_REQUEST', `${ep.name}: the API refused the request (${status}: ${msg})${rid}`, ctx)
}

/**
 * The page of a body the walk accepts: its records stay bytes of the body (sources/walk.ts), its other fields are
 * parsed; undefined when the walk gives up (the body is parsed whole then, for the same verdict).
 */
function walkedPage(ep: EndpointDescriptor, raw: Buffer): Page | undefined {
  const walked = walkPage(raw, ep.recordsKey, ep.instantPath)
  if (walked === undefined) return undefined
  const next = nextToken(ep, JSON.parse(walked.rest))
  return next === undefined ? undefined : { records: walkedRecords(raw, walked.records), next }
}

/** The page of a body parsed whole, its records re-encoded (counted); invalid JSON is a transient failure. */
function parsedPage(ep: EndpointDescriptor, raw: Buffer, bytes: number, requestId: string | undefined): Page | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(raw.toString('utf8'))
  } catch (err) {
    throw new TransientError(`invalid JSON in a ${bytes}-byte response`, requestId, false, undefined, { cause: err })
  }
  const next = nextToken(ep, parsed)
  return next === undefined ? undefined : { records: parsedRecords((parsed as Record<string, unknown[]>)[ep.recordsKey], ep.timestamp), next }
}

/** One exchange as `#send` returns it. */
interface Sent {
  status: number
  headers: Dispatcher.ResponseData['headers']
  body: BoundedBody
  requestId: string | undefined
}

/** Fetches pages of one endpoint; transient failures are retried, fatal ones thrown as Y360Error. */
export class ApiClient {
  readonly #opts: ClientOptions
  readonly #dispatcher: Dispatcher
  readonly #ownsDispatcher: boolean
  readonly #policy: RetryPolicy
  readonly #now: () => number
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>
  readonly #random: () => number
  readonly #scrub: Scrub
  readonly #maxBody: number
  readonly #deadlineMs: number

  constructor(opts: ClientOptions) {
    this.#opts = opts
    this.#scrub = scrubber([opts.token]) // a server may echo the Authorization header into its error message
    this.#maxBody = opts.maxBodyBytes ?? MAX_BODY_BYTES
    this.#deadlineMs = opts.deadlineMs ?? 3 * opts.timeoutMs
    this.#policy = { retries: opts.retries, baseMs: opts.retryBaseMs, maxMs: opts.retryMaxMs, maxWaitMs: opts.maxWaitMs }
    this.#now = opts.now ?? Date.now
    this.#sleep = opts.sleep ?? realSleep
    this.#random = opts.random ?? Math.random
    this.#ownsDispatcher = opts.dispatcher === undefined
    this.#dispatcher =
      opts.dispatcher ??
      new http.Agent({
        keepAliveTimeout: 30_000,
        connections: opts.connections ?? 16,
        connect: { timeout: opts.connectTimeoutMs },
        headersTimeout: opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
      })
  }

  /**
   * GET one page; `url` must not contain the token. p-retry runs the attempts; `decideRetry` says whether and how long
   * to wait. `sent` is called once, when the limiter lets the first attempt go (a request abandoned while it waited for
   * its turn was never made).
   */
  async getPage(ep: EndpointDescriptor, url: string, limiter: HostLimiter, signal?: AbortSignal, sent?: () => void): Promise<Page> {
    const o = this.#opts
    let firstLimitedAt: number | undefined // when this request was first rate limited
    let limited = 0
    return pRetry((attempt) => this.#attempt(ep, url, limiter, signal, attempt === 1 ? sent : undefined), {
      retries: o.retries,
      minTimeout: 0, // p-retry never waits itself: the decision's wait goes through the injected sleep or the limiter
      randomize: false,
      signal,
      shouldConsumeRetry: ({ error }) => !(error instanceof TransientError && error.rateLimited),
      onFailedAttempt: async ({ error, attemptNumber, retriesConsumed }) => {
        if (signal?.aborted) throw signal.reason
        if (error instanceof TransientError) o.onRetry?.(ep.name)
        const now = this.#now()
        const state = { source: ep.name, attempt: attemptNumber, retriesUsed: retriesConsumed, limited, limitedMs: firstLimitedAt === undefined ? 0 : now - firstLimitedAt, jitter: this.#random() }
        const d = decideRetry(error, state, now, this.#policy)
        if (!d.retry) throw d.error
        const requestId = (error as TransientError).requestId
        if (d.pauseHost === true) {
          firstLimitedAt ??= now
          limited++
          limiter.pause(d.waitMs) // every request to this host waits, not only this one
          o.log.warn({ source: ep.name, attempt: attemptNumber, requestId, waitMs: d.waitMs }, `${ep.name}: ${error.message}; retrying`)
          return
        }
        o.log.warn({ source: ep.name, attempt: attemptNumber, retriesLeft: o.retries - retriesConsumed, requestId, backoffMs: d.waitMs }, `${ep.name}: ${error.message}; retrying`)
        await this.#backoff(d.waitMs, signal)
      },
    })
  }

  async #backoff(ms: number, signal: AbortSignal | undefined): Promise<void> {
    try {
      await this.#sleep(ms, signal)
    } catch (err) {
      throw signal?.aborted === true ? signal.reason : err
    }
  }

  async #attempt(ep: EndpointDescriptor, url: string, limiter: HostLimiter, signal: AbortSignal | undefined, sent: (() => void) | undefined): Promise<Page> {
    const sentAt = await limiter.acquire(signal)
    sent?.()
    const res = await this.#send(ep, url, signal)
    limiter.answered(sentAt, statusAction(res.status) === 'rate-limited') // what the host accepts is what its adaptive rate learns from
    return this.#pageOf(ep, url, res)
  }

  /**
   * The page of a response, or the error it means. Synchronous: the body's text lives only in this call, never in an
   * object a promise resolves to (one that did stayed reachable after its last use, through the finished exchange, for
   * the young generation's next collections: see bounded.ts).
   */
  #pageOf(ep: EndpointDescriptor, url: string, res: Sent): Page {
    const { status, headers, body, requestId } = res
    const action = statusAction(status)
    if (action === 'rate-limited') throw new TransientError(`rate limited (429)`, requestId, true, headers['retry-after'])
    if (action === 'transient') throw new TransientError(`server error ${status}: ${this.#scrub(errorMessage(body.raw.toString('utf8')))}`, requestId)
    if (action === 'fatal') throw new AbortError(fatalHttpError(ep, status, this.#scrub(errorMessage(body.raw.toString('utf8'))), requestId, url, this.#opts.tokenFrom))
    if (body.over) {
      // Not retried: a page this large is not a page of the audit log (a broken proxy, a hostile server).
      const msg = `${ep.name}: the response passed --max-body ${this.#maxBody} bytes; stopped reading it at ${body.bytes} bytes (a page of 100 records is well under 1 MiB)${requestId === undefined ? '' : ` (X-Request-Id ${requestId})`}`
      throw new AbortError(new Y360Error('BAD_PAGE', msg, { source: ep.name, status, requestId }))
    }
    // A body that is not UTF-8 is kept as the text it decoded to (U+FFFD where the bytes were not UTF-8: counted per
    // record, replacement-character).
    const raw = isUtf8(body.raw) ? body.raw : Buffer.from(body.raw.toString('utf8'), 'utf8')
    const page = walkedPage(ep, raw) ?? parsedPage(ep, raw, body.bytes, requestId)
    if (page === undefined) throw new TransientError(`a response that is not a page of ${ep.name}`, requestId)
    return page
  }

  /**
   * One request, its body read within the caps: --max-body bytes (an error body: its start), and the deadline for the
   * whole exchange, which neither 1xx responses nor a dripping body extend (undici's own timeouts restart on each).
   */
  async #send(ep: EndpointDescriptor, url: string, signal: AbortSignal | undefined): Promise<Sent> {
    let requestId: string | undefined
    try {
      const res = await http.get(this.#dispatcher, url, {
        headers: { authorization: `OAuth ${this.#opts.token}`, accept: 'application/json' },
        headersTimeout: this.#opts.timeoutMs,
        bodyTimeout: this.#opts.timeoutMs,
        deadlineMs: this.#deadlineMs,
        signal,
        started: (status, headers) => {
          requestId = header(headers, 'x-request-id')
          return status >= 200 && status < 300 ? this.#maxBody : Math.min(this.#maxBody, MAX_ERROR_BODY)
        },
      })
      return { status: res.status, headers: res.headers, body: res.body, requestId }
    } catch (err) {
      if (err instanceof DeadlinePassed) {
        throw new TransientError(`no complete response within the request deadline of ${showMs(this.#deadlineMs)} (--request-deadline)`, requestId, false, undefined, { cause: err })
      }
      throw this.#networkError(err, requestId)
    }
  }

  #networkError(err: unknown, requestId: string | undefined): Error {
    if (err instanceof Error && err.name === 'AbortError') return new AbortError(err)
    const code = sysCode(err)
    if (code !== undefined && NETWORK_ERROR_CODES.has(code)) return new TransientError(`network error ${code}: ${(err as Error).message}`, requestId, false, undefined, { cause: err })
    if (err instanceof TypeError || code === undefined) return new TransientError(`network error: ${(err as Error).message}`, requestId, false, undefined, { cause: err })
    return new TransientError(`network error ${code}`, requestId, false, undefined, { cause: err })
  }

  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close()
  }
}
