/**
 * Retry decision, pure. In: the failure, where the request stands (attempts, retries spent, time rate limited so far)
 * and now. Out: give up with the error the user sees, or wait `waitMs` (the whole host, after a 429) and try again.
 * Status and network error codes are data. No clock, timer or randomness of its own: the client passes `now` and the
 * jitter, and does the waiting.
 */
import { Y360Error } from '../errors.js'

/** What a response status means for the request. */
export type StatusAction = 'ok' | 'rate-limited' | 'transient' | 'fatal'

/**
 * Response statuses by what they mean (like undici's RetryHandler `statusCodes`): an exact status first, then its
 * class (`5xx`); anything not listed is fatal (the user must act: 400, 401, 403, 404…).
 */
export const STATUS_ACTIONS: Readonly<Record<string, StatusAction>> = Object.freeze({
  '2xx': 'ok',
  '429': 'rate-limited',
  '5xx': 'transient',
})

/** The action for one response status, from `STATUS_ACTIONS`. */
export function statusAction(status: number): StatusAction {
  return STATUS_ACTIONS[String(status)] ?? STATUS_ACTIONS[`${Math.floor(status / 100)}xx`] ?? 'fatal'
}

/**
 * Network error codes worth another attempt (like undici's RetryHandler `errorCodes`); their message is kept in the
 * retry log. Codes that `request()` can raise on a connection or a body that broke off, plus DNS and routing failures
 * that tend to heal. An error with another code (or none) is retried too, named by its code only: what matters to the
 * user is that the API could not be reached.
 */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
])

/** An attempt that failed in a way worth another one: a 429 (with its raw `Retry-After`), or a transient failure. */
export class TransientError extends Error {
  constructor(
    message: string,
    readonly requestId: string | undefined,
    /** A 429: the wait comes from `Retry-After`, pauses the whole host, and spends no retry. */
    readonly rateLimited = false,
    /** The 429's `Retry-After` header as sent (seconds or an HTTP-date), read against `now` when deciding. */
    readonly retryAfter?: string | string[],
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** Parses `Retry-After` (delta seconds or HTTP-date) to milliseconds from `now`. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value
  if (v === undefined || v.trim() === '') return undefined
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Math.round(Number(v) * 1000)
  if (!/[a-z]/i.test(v)) return undefined // an HTTP-date names its day and month; Date.parse would read '-3' as a year
  const at = Date.parse(v)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/** The client's retry options (from --retries, --retry-delay, --max-wait). */
export interface RetryPolicy {
  /** Retries after the first attempt for transient failures (429s spend none). */
  retries: number
  /** First backoff delay; doubles each time, with jitter. */
  baseMs: number
  maxMs: number
  /** Longest time one request may spend rate limited before the run gives up (exit 75). */
  maxWaitMs: number
}

/** Where one request stands when an attempt has just failed. */
export interface RetryState {
  source: string
  /** Attempts made so far, the failed one included. */
  attempt: number
  /** Retries already spent before this failure (429s spend none). */
  retriesUsed: number
  /** 429s this request met before this one. */
  limited: number
  /** Time since this request was first rate limited (0 when it never was, or this is its first 429). */
  limitedMs: number
  /** Jitter in [0, 1): the backoff is base × 2^retriesUsed × (1 + jitter). */
  jitter: number
}

export type RetryDecision = { retry: false; error: unknown } | { retry: true; waitMs: number; pauseHost?: true }

/** Give up (with the error the user sees) or wait `waitMs` and try again; after a 429 the whole host pauses. */
export function decideRetry(error: unknown, s: RetryState, now: number, p: RetryPolicy): RetryDecision {
  if (!(error instanceof TransientError)) return { retry: false, error }
  const rid = error.requestId ? ` (X-Request-Id ${error.requestId})` : ''
  let waitMs: number
  if (error.rateLimited) {
    const told = parseRetryAfter(error.retryAfter, now) ?? p.baseMs
    // A Retry-After of 0 (or a date in the past) repeated forever must not become a busy loop: back off at least
    // exponentially, and give up when the time spent rate limited would pass --max-wait.
    waitMs = Math.max(told, Math.min(p.maxMs, p.baseMs * 2 ** s.limited))
    const ctx = { source: s.source, status: 429, requestId: error.requestId }
    if (waitMs > p.maxWaitMs) {
      return { retry: false, error: new Y360Error('RATE_LIMITED', `${s.source}: rate limited (429); the API asks to wait ${Math.ceil(waitMs / 1000)}s, more than --max-wait ${Math.ceil(p.maxWaitMs / 1000)}s allows; try again later${rid}`, ctx) }
    }
    if (s.limitedMs + waitMs > p.maxWaitMs) {
      return { retry: false, error: new Y360Error('RATE_LIMITED', `${s.source}: rate limited (429) ${s.limited + 1} times over ${Math.ceil(s.limitedMs / 1000)}s; waiting longer would pass --max-wait ${Math.ceil(p.maxWaitMs / 1000)}s; try again later${rid}`, ctx) }
    }
  } else {
    waitMs = Math.min(p.maxMs, Math.round((1 + s.jitter) * p.baseMs * 2 ** s.retriesUsed))
  }
  if (s.retriesUsed >= p.retries) {
    return { retry: false, error: new Y360Error('API_UNAVAILABLE', `${s.source}: the API kept failing after ${s.attempt} attempts; last error: ${error.message}${rid}`, { source: s.source, requestId: error.requestId }, { cause: error }) }
  }
  return error.rateLimited ? { retry: true, waitMs, pauseHost: true } : { retry: true, waitMs }
}
