/** HTTP client for the audit-log APIs: undici keep-alive, OAuth header, timeouts, p-retry, 429 handling, error mapping. */
import pRetry, { AbortError } from 'p-retry'
import type { Dispatcher } from 'undici'
import { Y360Error, sysCode } from '../errors.js'
import type { Logger } from '../log.js'
import type { EndpointDescriptor, Page } from './descriptor.js'
import { http } from './http.js'
import type { HostLimiter } from './limiter.js'

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
}

/** A failure worth another attempt; carries a suggested wait (Retry-After) for 429. */
class TransientError extends Error {
  constructor(message: string, readonly requestId: string | undefined, readonly retryAfterMs?: number, options?: { cause?: unknown }) {
    super(message, options)
  }
}

const TRANSIENT_NET = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_RESPONSE_STATUS_CODE', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
])

/** Parses `Retry-After` (delta seconds or HTTP-date) to milliseconds from `now`. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value
  if (v === undefined || v.trim() === '') return undefined
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Math.round(Number(v) * 1000)
  if (!/[a-z]/i.test(v)) return undefined // an HTTP-date names its day and month; Date.parse would read '-3' as a year
  const at = Date.parse(v)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

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

  constructor(opts: ClientOptions) {
    this.#opts = opts
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

  /** GET one page; `url` must not contain the token. */
  async getPage(ep: EndpointDescriptor, url: string, limiter: HostLimiter, signal?: AbortSignal): Promise<Page> {
    const o = this.#opts
    let first429: number | undefined // when this request was first rate limited
    let count429 = 0
    return pRetry(() => this.#attempt(ep, url, limiter, signal), {
      retries: o.retries,
      factor: 2,
      minTimeout: o.retryBaseMs,
      maxTimeout: o.retryMaxMs,
      randomize: true,
      signal,
      shouldConsumeRetry: ({ error }) => !(error instanceof TransientError && error.retryAfterMs !== undefined),
      onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
        if (signal?.aborted) throw signal.reason
        if (!(error instanceof TransientError)) throw error
        o.onRetry?.(ep.name)
        let wait = error.retryAfterMs
        if (wait !== undefined) {
          const now = Date.now()
          first429 ??= now
          count429++
          // A Retry-After of 0 (or a date in the past) repeated forever must not become a busy loop: back off at least
          // exponentially, and give up when the time spent rate limited would pass --max-wait.
          wait = Math.max(wait, Math.min(o.retryMaxMs, o.retryBaseMs * 2 ** (count429 - 1)))
          const rid = error.requestId ? ` (X-Request-Id ${error.requestId})` : ''
          if (wait > o.maxWaitMs) {
            throw new Y360Error('RATE_LIMITED', `${ep.name}: rate limited (429); the API asks to wait ${Math.ceil(wait / 1000)}s, more than --max-wait ${Math.ceil(o.maxWaitMs / 1000)}s allows; try again later${rid}`, { source: ep.name, status: 429, requestId: error.requestId })
          }
          if (now - first429 + wait > o.maxWaitMs) {
            throw new Y360Error('RATE_LIMITED', `${ep.name}: rate limited (429) ${count429} times over ${Math.ceil((now - first429) / 1000)}s; waiting longer would pass --max-wait ${Math.ceil(o.maxWaitMs / 1000)}s; try again later${rid}`, { source: ep.name, status: 429, requestId: error.requestId })
          }
          limiter.pause(wait)
        }
        o.log.warn({ source: ep.name, attempt: attemptNumber, retriesLeft, requestId: error.requestId, waitMs: wait }, `${ep.name}: ${error.message}; retrying`)
        if (retriesLeft === 0) {
          throw new Y360Error('API_UNAVAILABLE', `${ep.name}: the API kept failing after ${attemptNumber} attempts; last error: ${error.message}${error.requestId ? ` (X-Request-Id ${error.requestId})` : ''}`, { source: ep.name, requestId: error.requestId }, { cause: error })
        }
      },
    })
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
    if (status === 429) {
      const retryAfterMs = parseRetryAfter(res.headers['retry-after'], Date.now()) ?? this.#opts.retryBaseMs
      throw new TransientError(`rate limited (429)`, requestId, retryAfterMs)
    }
    if (status >= 500) throw new TransientError(`server error ${status}: ${errorMessage(text)}`, requestId)
    if (status < 200 || status >= 300) throw new AbortError(fatalHttpError(ep, status, errorMessage(text), requestId))
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch (err) {
      throw new TransientError(`invalid JSON in a ${text.length}-byte response`, requestId, undefined, { cause: err })
    }
    const page = ep.page(body)
    if (page === undefined) throw new TransientError(`a response that is not a page of ${ep.name}`, requestId)
    return page
  }

  #networkError(err: unknown, requestId: string | undefined): Error {
    if (err instanceof Error && err.name === 'AbortError') return new AbortError(err)
    const code = sysCode(err)
    if (code !== undefined && TRANSIENT_NET.has(code)) return new TransientError(`network error ${code}: ${(err as Error).message}`, requestId, undefined, { cause: err })
    if (err instanceof TypeError || code === undefined) return new TransientError(`network error: ${(err as Error).message}`, requestId, undefined, { cause: err })
    return new TransientError(`network error ${code}`, requestId, undefined, { cause: err })
  }

  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close()
  }
}
