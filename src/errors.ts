/** One error type for the whole tool: a closed set of codes, context on named fields, causes chained. */

export type ErrorCode =
  | 'CONFIG_INVALID' // bad flags, variables or paths; nothing was fetched
  | 'AUTH_FAILED' // 401: token missing, invalid or expired
  | 'SCOPE_MISSING' // 403: the token lacks this source's scope
  | 'ORG_NOT_FOUND' // 404: unknown organisation
  | 'FEATURE_INACTIVE' // 400 "feature is not active": the org has no audit log
  | 'BAD_REQUEST' // 400 for another reason
  | 'API_UNAVAILABLE' // 5xx, resets, timeouts, garbage, after all retries
  | 'RATE_LIMITED' // 429 beyond --max-wait: try later
  | 'BAD_PAGE' // a page that cannot be used (wrong shape, paging loop)
  | 'SINK_WRITE' // the archive or stdout could not be written
  | 'LOCKED' // another run holds the archive lock
  | 'INTERRUPTED' // SIGINT/SIGTERM
  | 'OUTPUT_CLOSED' // --stdout: the reader went away (| head): a quiet, successful end
  | 'ARCHIVE_DAMAGED' // verify found problems
  | 'SYSLOG_FAILED' // --syslog: the receiver could not be reached (or its certificate was refused) after all retries
  | 'ANOMALY' // the run completed, but the API or the archive broke an assumption (summary `anomalies`)
  | 'RECORDS_MISSING' // reconcile: the archive lacked records the API returns (merged in, or reported only with --dry-run)
  | 'INTERNAL'

export interface ErrorContext {
  source?: string
  status?: number
  requestId?: string
  path?: string
  problems?: string[]
}

/** The tool's error: `code` says what kind of failure, context fields say where. */
export class Y360Error extends Error {
  readonly code: ErrorCode
  readonly source: string | undefined
  readonly status: number | undefined
  readonly requestId: string | undefined
  readonly path: string | undefined
  readonly problems: string[] | undefined

  constructor(code: ErrorCode, message: string, ctx: ErrorContext = {}, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'Y360Error'
    this.code = code
    this.source = ctx.source
    this.status = ctx.status
    this.requestId = ctx.requestId
    this.path = ctx.path
    this.problems = ctx.problems
  }
}

/** Exit codes, one table for the whole CLI (documented in the README). */
export const EXIT_CODES: Record<ErrorCode | 'OK', number> = {
  OK: 0,
  CONFIG_INVALID: 1,
  AUTH_FAILED: 3,
  SCOPE_MISSING: 3,
  ORG_NOT_FOUND: 3,
  FEATURE_INACTIVE: 3,
  BAD_REQUEST: 3,
  API_UNAVAILABLE: 4,
  BAD_PAGE: 4,
  SINK_WRITE: 5,
  LOCKED: 6,
  ARCHIVE_DAMAGED: 7,
  ANOMALY: 8,
  SYSLOG_FAILED: 9,
  RECORDS_MISSING: 10,
  INTERNAL: 70,
  RATE_LIMITED: 75,
  INTERRUPTED: 130,
  OUTPUT_CLOSED: 0,
}

/**
 * Exit codes from the most to the least severe: a run of several organisations (--config) exits with the first of
 * these that any organisation had (a bug, then what needs the operator, then what is transient or harmless).
 */
export const EXIT_SEVERITY: readonly number[] = [70, 1, 3, 5, 7, 9, 4, 10, 8, 6, 75]

/** The most severe of `codes` (EXIT_SEVERITY; an unlisted non-zero code ranks after them); 0 when all are 0. */
export function worstExit(codes: readonly number[]): number {
  const failed = codes.filter((c) => c !== 0)
  if (failed.length === 0) return 0
  const rank = (c: number): number => (EXIT_SEVERITY.includes(c) ? EXIT_SEVERITY.indexOf(c) : EXIT_SEVERITY.length)
  return failed.reduce((a, b) => (rank(b) < rank(a) ? b : a))
}

/** Exit code for any thrown value; unknown errors are internal faults. */
export function exitCodeOf(err: unknown): number {
  return err instanceof Y360Error ? EXIT_CODES[err.code] : EXIT_CODES.INTERNAL
}

/** Node's system error code (ENOSPC, EACCES, …) of an error, if it has one. */
export function sysCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}
