/** HTTP client for the audit-log APIs: undici keep-alive, OAuth header, timeouts, error mapping; p-retry runs the attempts, retry.ts decides. */
import { setTimeout as sleep } from 'node:timers/promises'
import pRetry, { AbortError } from 'p-retry'
import type { Dispatcher } from 'undici'
import { Y360Error, sysCode } from '../errors.js'
import type { Logger } from '../log.js'
import type { EndpointDescriptor, Page } from './descriptor.js'
import { http } from './http.js'
import type { HostLimiter } from './limiter.js'
import { NETWORK_ERROR_CODES, TransientError, decideRetry, statusAction, type RetryPolicy } from './retry.js'

export interface ClientOptions {
  token: string
  retries: number // retries after the first attempt, for transient failures
  retryBaseMs: number // first backoff delay; doubles each time, with jitter
  retryMaxMs: number
  maxWaitMs: number // longest wait a 429 may impose before the run gives up (exit 75)
  timeoutMs: number // headers and body timeouts
  connectTimeoutMs: number
  dispatcher?: Dispatcher
  log: Logger
  onRetry?: (source: string) => void
  /** The clock the retry decision reads (Retry-After dates, time spent rate limited); tests inject a fake one. */
  now?: () => number
  /** Waits a backoff delay; tests inject a fake clock's advance. A 429's wait goes through the host's limiter instead. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  /** Jitter source in [0, 1) for the backoff. */
  random?: () => number
}

const realSleep = (ms: number, signal?: AbortSignal): Promise<void> => sleep(ms, undefined, { signal })

/** The message of an error body, leniently: api360 `{code,message}`, cloud-api `{message|description|error}`. */
function errorMessage(text: string): string {
  try {
    const b = JSON.parse(text) as Record<string, unknown>
    for (const k of ['message', 'description', 'error', 'error_description']) {
      if (typeof b[k] === 'string' && b[k] !== '') return b[k] as string
    }
  } catch {
    // not JSON (an HTML error page): fall through to a short excerpt
  }
  return text.replace(/\s+/g, ' ').slice(0, 200)
}

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name]
  return Array.isArray(v) ? v[0] : v
}

/** Turns a non-2xx, non-transient status into the error the user must act on. */
function fatalHttpError(ep: EndpointDescriptor, status: number, msg: string, requestId: string | undefined): Y360Error {
  const ctx = { source: ep.name, status, requestId }
  const rid = requestId === undefined ? '' : ` (X-Request-Id ${requestId})`
  if (status === 401) {
    return new Y360Error('AUTH_FAILED', `${ep.name}: the API rejected the token (401: ${msg}); check OAUTH_TOKEN_ARG / --token: it may be wrong or expired${rid}`, ctx)
  }
  if (status === 403) {
    return new Y360Error('SCOPE_MISSING', `${ep.name}: access denied (403: ${msg}); the token lacks scope ${ep.scope} or the user lacks the admin role: add the scope to the OAuth app and issue a new token${rid}`, ctx)
  }
  if (status === 404) {
    return new Y360Error('ORG_NOT_FOUND', `${ep.name}: organisation not found (404: ${msg}); check ORGANIZATION_ID_ARG / --org${rid}`, ctx)
  }
  if (status === 400 && /not active/i.test(msg)) {
    return new Y360Error('FEATURE_INACTIVE', `${ep.name}: the audit log is not enabled for this organisation (400: ${msg}); an admin must switch it on (it needs a plan that includes audit logs)${rid}`, ctx)
  }
  return new Y360Error('BAD_REQUEST', `${ep.name}: the API refused the request (${status}: ${msg})${rid}`, ctx)
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

  constructor(opts: ClientOptions) {
    this.#opts = opts
    this.#policy = { retries: opts.retries, baseMs: opts.retryBaseMs, maxMs: opts.retryMaxMs, maxWaitMs: opts.maxWaitMs }
    this.#now = opts.now ?? Date.now
    this.#sleep = opts.sleep ?? realSleep
    this.#random = opts.random ?? Math.random
    this.#ownsDispatcher = opts.dispatcher === undefined
    this.#dispatcher =
      opts.dispatcher ??
      new http.Agent({
        keepAliveTimeout: 30_000,
        connections: 16,
        connect: { timeout: opts.connectTimeoutMs },
        headersTimeout: opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
      })
  }

  /** GET one page; `url` must not contain the token. p-retry runs the attempts; `decideRetry` says whether and how long to wait. */
  async getPage(ep: EndpointDescriptor, url: string, limiter: HostLimiter, signal?: AbortSignal): Promise<Page> {
    const o = this.#opts
    let firstLimitedAt: number | undefined // when this request was first rate limited
    let limited = 0
    return pRetry(() => this.#attempt(ep, url, limiter, signal), {
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

  async #attempt(ep: EndpointDescriptor, url: string, limiter: HostLimiter, signal?: AbortSignal): Promise<Page> {
    await limiter.acquire(signal)
    let res: Dispatcher.ResponseData
    try {
      res = await http.request(this.#dispatcher, url, {
        method: 'GET',
        headers: { authorization: `OAuth ${this.#opts.token}`, accept: 'application/json' },
        headersTimeout: this.#opts.timeoutMs,
        bodyTimeout: this.#opts.timeoutMs,
        signal,
      })
    } catch (err) {
      throw this.#networkError(err, undefined)
    }
    const requestId = header(res.headers, 'x-request-id')
    let text: string
    try {
      text = await res.body.text() // always consume the body, on every path
    } catch (err) {
      throw this.#networkError(err, requestId)
    }
    const status = res.statusCode
    const action = statusAction(status)
    if (action === 'rate-limited') throw new TransientError(`rate limited (429)`, requestId, true, res.headers['retry-after'])
    if (action === 'transient') throw new TransientError(`server error ${status}: ${errorMessage(text)}`, requestId)
    if (action === 'fatal') throw new AbortError(fatalHttpError(ep, status, errorMessage(text), requestId))
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch (err) {
      throw new TransientError(`invalid JSON in a ${text.length}-byte response`, requestId, false, undefined, { cause: err })
    }
    const page = ep.page(body, text) // the text too: each record is kept as sent, sliced from it (sources/spans.ts)
    if (page === undefined) throw new TransientError(`a response that is not a page of ${ep.name}`, requestId)
    return page
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
