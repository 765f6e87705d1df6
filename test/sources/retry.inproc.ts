// The retry decision, pure: a table of (failure, where the request stands, now) → give up with which error, or wait
// how long (and pause the host after a 429). Guards the backoff, the Retry-After reading, the --max-wait cap, the
// retry budget and the status table; no clock and no sleep anywhere.
import t from 'tap'
import { Y360Error } from '../../src/errors.js'
import { STATUS_ACTIONS, TransientError, decideRetry, statusAction, type RetryState } from '../../src/sources/retry.js'

const NOW = Date.UTC(2025, 8, 10, 12)
const policy = { retries: 3, baseMs: 100, maxMs: 500, maxWaitMs: 10_000 }
const state = (s: Partial<RetryState> = {}): RetryState => ({ source: 'mail', attempt: 1, retriesUsed: 0, limited: 0, limitedMs: 0, jitter: 0, ...s })
const server = new TransientError('server error 503: busy', 'rid-1')
const limited = (retryAfter?: string): TransientError => new TransientError('rate limited (429)', 'rid-2', true, retryAfter)

t.test('statusAction: exact statuses, then the class, else fatal', async (t) => {
  const table: [number, string][] = [
    [200, 'ok'], [204, 'ok'], [299, 'ok'], [100, 'fatal'], [301, 'fatal'], [304, 'fatal'], [400, 'fatal'], [401, 'fatal'],
    [403, 'fatal'], [404, 'fatal'], [408, 'fatal'], [429, 'rate-limited'], [500, 'transient'], [501, 'transient'],
    [502, 'transient'], [503, 'transient'], [504, 'transient'], [599, 'transient'],
  ]
  t.same(table.map(([s]) => [s, statusAction(s)]), table)
  t.ok(Object.isFrozen(STATUS_ACTIONS), 'the table is data nobody can change at run time')
})

t.test('decideRetry: backoff, Retry-After, --max-wait and the retry budget', async (t) => {
  const fatal = new Y360Error('AUTH_FAILED', 'mail: the API rejected the token')
  const aborted = new Error('aborted')
  const cases: { name: string; error: unknown; s?: Partial<RetryState>; want: object }[] = [
    { name: 'a fatal error is given up as it is', error: fatal, want: { retry: false, error: fatal } },
    { name: 'anything not transient is given up', error: aborted, want: { retry: false, error: aborted } },
    { name: 'first backoff: the base', error: server, want: { retry: true, waitMs: 100 } },
    { name: 'doubles per retry spent, with jitter', error: server, s: { retriesUsed: 1, jitter: 0.5 }, want: { retry: true, waitMs: 300 } },
    { name: 'capped at maxMs', error: server, s: { retriesUsed: 2, jitter: 0.5 }, want: { retry: true, waitMs: 500 } },
    { name: 'jitter just below 1', error: server, s: { retriesUsed: 0, jitter: 0.999 }, want: { retry: true, waitMs: 200 } },
    { name: '429 Retry-After seconds, host paused', error: limited('3'), want: { retry: true, waitMs: 3000, pauseHost: true } },
    { name: '429 Retry-After HTTP-date, read against now', error: limited(new Date(NOW + 4000).toUTCString()), want: { retry: true, waitMs: 4000, pauseHost: true } },
    { name: '429 without Retry-After waits the base', error: limited(), want: { retry: true, waitMs: 100, pauseHost: true } },
    { name: '429 Retry-After 0 repeated backs off by 429s met, not retries', error: limited('0'), s: { limited: 2, retriesUsed: 0 }, want: { retry: true, waitMs: 400, pauseHost: true } },
    { name: '429 backoff floor capped at maxMs', error: limited('0'), s: { limited: 6 }, want: { retry: true, waitMs: 500, pauseHost: true } },
    { name: '429 Retry-After longer than its floor wins', error: limited('1'), s: { limited: 3 }, want: { retry: true, waitMs: 1000, pauseHost: true } },
  ]
  for (const c of cases) t.same(decideRetry(c.error, state(c.s), NOW, policy), c.want, c.name)
})

t.test('decideRetry: the errors the user sees when it gives up', async (t) => {
  const cases: { name: string; error: TransientError; s: Partial<RetryState>; code: string; msg: RegExp; status?: number }[] = [
    { name: 'retries spent', error: server, s: { attempt: 4, retriesUsed: 3 }, code: 'API_UNAVAILABLE', msg: /^mail: the API kept failing after 4 attempts; last error: server error 503: busy \(X-Request-Id rid-1\)$/ },
    { name: 'a 429 when the retries are spent', error: limited('1'), s: { attempt: 6, retriesUsed: 3 }, code: 'API_UNAVAILABLE', msg: /after 6 attempts; last error: rate limited \(429\)/ },
    { name: 'Retry-After beyond --max-wait', error: limited(new Date(NOW + 42_000).toUTCString()), s: {}, code: 'RATE_LIMITED', status: 429, msg: /^mail: rate limited \(429\); the API asks to wait 42s, more than --max-wait 10s allows; try again later \(X-Request-Id rid-2\)$/ },
    { name: 'rate limited too long in all', error: limited('5'), s: { limited: 1, limitedMs: 6000 }, code: 'RATE_LIMITED', status: 429, msg: /^mail: rate limited \(429\) 2 times over 6s; waiting longer would pass --max-wait 10s; try again later/ },
    { name: '--max-wait is checked before the retry budget', error: limited('60'), s: { retriesUsed: 3 }, code: 'RATE_LIMITED', status: 429, msg: /asks to wait 60s/ },
  ]
  for (const c of cases) {
    const d = decideRetry(c.error, state(c.s), NOW, policy)
    if (d.retry) {
      t.fail(`${c.name}: retried`)
      continue
    }
    const err = d.error as Y360Error
    t.same([err.code, err.source, err.status, err.requestId], [c.code, 'mail', c.status, c.error.requestId], `${c.name}: code and context`)
    t.match(err.message, c.msg, `${c.name}: message`)
    if (c.code === 'API_UNAVAILABLE') t.equal(err.cause, c.error, `${c.name}: the last failure is the cause`)
  }
})

t.test('a wait that exactly reaches --max-wait is still waited', async (t) => {
  t.same(decideRetry(limited('4'), state({ limited: 1, limitedMs: 6000 }), NOW, policy), { retry: true, waitMs: 4000, pauseHost: true })
  t.same(decideRetry(limited('10'), state(), NOW, policy), { retry: true, waitMs: 10_000, pauseHost: true })
})
