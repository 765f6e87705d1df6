// ApiClient against the real emulator over HTTP: transient failures are retried, fatal ones fail at once with a
// message that names the source, the cause and the X-Request-Id, never the token.
import t from 'tap'
import pino from 'pino'
import { ApiClient } from '../../src/sources/client.js'
import { parseRetryAfter } from '../../src/sources/retry.js'
import { Y360Error } from '../../src/errors.js'
import { mail } from '../../src/sources/mail.js'
import { events } from '../../src/sources/events.js'
import type { EndpointDescriptor } from '../../src/sources/descriptor.js'
import { Limiters } from '../../src/sources/limiter.js'
import { emulator, localServer, TOKEN } from '../helpers.js'
import type { Emulator } from '../../src/emulator/index.js'

const log = pino({ level: 'silent' })
const NOW = Date.UTC(2025, 8, 10, 12)

t.test('parseRetryAfter: delta seconds and HTTP-date', async (t) => {
  t.equal(parseRetryAfter('3', NOW), 3000)
  t.equal(parseRetryAfter(' 0 ', NOW), 0)
  t.equal(parseRetryAfter('1.5', NOW), 1500)
  t.equal(parseRetryAfter(['7', '9'], NOW), 7000, 'first of repeated headers')
  t.equal(parseRetryAfter(new Date(NOW + 42_000).toUTCString(), NOW), 42_000)
  t.equal(parseRetryAfter(new Date(NOW - 5_000).toUTCString(), NOW), 0, 'a date in the past means now')
  t.equal(parseRetryAfter(undefined, NOW), undefined)
  t.equal(parseRetryAfter('', NOW), undefined)
  t.equal(parseRetryAfter('soon', NOW), undefined)
  t.equal(parseRetryAfter('-3', NOW), undefined)
})

function client(retries = 6, token = TOKEN, maxWaitMs = 60_000): ApiClient {
  return new ApiClient({ token, retries, retryBaseMs: 1, retryMaxMs: 5, maxWaitMs, timeoutMs: 5000, connectTimeoutMs: 2000, log })
}

function pageUrl(emu: Emulator, ep: EndpointDescriptor, org = emu.org): string {
  const nowUs = Date.now() * 1000
  return `${emu.url}${ep.path(org)}?${ep.query({ after: nowUs - 86_400_000_000 * 3, before: nowUs, token: undefined, pageSize: 100, filters: {} })}`
}

async function failure(p: Promise<unknown>): Promise<Y360Error> {
  try {
    await p
  } catch (err) {
    if (err instanceof Y360Error) return err
    throw err
  }
  throw new Error('expected a failure')
}

t.test('5xx, HTML 502, resets and truncated JSON are retried until a good page', async (t) => {
  const emu = await emulator(t, { counts: { mail: 50 }, days: 1 })
  const limiter = new Limiters({ maxRps: 0 }).for(emu.url)
  const c = client(20)
  t.teardown(() => c.close())
  const clean = await c.getPage(mail, pageUrl(emu, mail), limiter)
  t.equal(clean.records.length, 50)
  for (const fault of ['error5xx', 'html502', 'reset', 'truncated'] as const) {
    emu.resetStats()
    emu.setFaults({ [fault]: 0.7, seed: 7 }) // seed 7 draws 0.01, 0.06, 0.98: two failures, then a good answer
    const page = await c.getPage(mail, pageUrl(emu, mail), limiter)
    emu.setFaults({ [fault]: 0 })
    t.same(page, clean, `${fault}: the same page in the end`)
    const s = emu.stats()
    const failures = fault === 'error5xx' ? 1 : 2 // error5xx spends a draw on choosing 500/502/503
    t.equal(s.faultsInjected[fault], failures, `${fault}: injected ${failures}×`)
    t.equal(s.requests, failures + 1, `${fault}: each failure retried, then the good answer`)
  }
})

t.test('retries are bounded: API_UNAVAILABLE after retries + 1 attempts', async (t) => {
  const emu = await emulator(t, { counts: { mail: 5 }, days: 1, faults: { error5xx: 1 } })
  const c = client(2)
  t.teardown(() => c.close())
  const err = await failure(c.getPage(mail, pageUrl(emu, mail), new Limiters({ maxRps: 0 }).for(emu.url)))
  t.equal(err.code, 'API_UNAVAILABLE')
  t.match(err.message, /^mail: the API kept failing after 3 attempts; last error: server error 50[023]/)
  t.match(err.message, /X-Request-Id [0-9a-f-]{36}/)
  t.equal(emu.stats().requests, 3)
})

t.test('4xx fail fast: one request, a code, the source, the cause, the request id, never the token', async (t) => {
  const emu = await emulator(t, { counts: { mail: 5, events: 5 }, days: 1 })
  const limiter = new Limiters({ maxRps: 0 }).for(emu.url)
  const cases: { name: string; ep: EndpointDescriptor; setup: () => void; token?: string; org?: number; code: string; msg: RegExp }[] = [
    { name: '401', ep: mail, setup: () => {}, token: 'y0_wrong-token-abcdef', code: 'AUTH_FAILED', msg: /^mail: the API rejected the token \(401: .*check OAUTH_TOKEN_ARG/ },
    { name: '403 mail', ep: mail, setup: () => emu.setSwitches({ scopeMissing: ['mail'] }), code: 'SCOPE_MISSING', msg: /^mail: access denied \(403.*ya360_security:audit_log_mail/ },
    { name: '403 events', ep: events, setup: () => emu.setSwitches({ scopeMissing: ['events'] }), code: 'SCOPE_MISSING', msg: /^events: access denied \(403.*ya360_security:read_auditlog/ },
    { name: '404', ep: mail, setup: () => emu.setSwitches({ scopeMissing: [] }), org: 999, code: 'ORG_NOT_FOUND', msg: /^mail: organisation not found \(404.*check ORGANIZATION_ID_ARG/ },
    { name: '400 inactive', ep: mail, setup: () => emu.setSwitches({ featureInactive: ['mail'] }), code: 'FEATURE_INACTIVE', msg: /^mail: the audit log is not enabled for this organisation \(400: audit log feature is not active/ },
  ]
  for (const k of cases) {
    k.setup()
    emu.resetStats()
    const c = client(6, k.token ?? TOKEN)
    const err = await failure(c.getPage(k.ep, pageUrl(emu, k.ep, k.org ?? emu.org), limiter))
    await c.close()
    t.equal(err.code, k.code, `${k.name}: code`)
    t.match(err.message, k.msg, `${k.name}: message`)
    t.match(err.message, /\(X-Request-Id [0-9a-f-]{36}\)$/, `${k.name}: request id`)
    t.equal(err.requestId?.length, 36)
    t.notOk(err.message.includes(k.token ?? TOKEN), `${k.name}: no token in the message`)
    t.equal(emu.stats().requests, 1, `${k.name}: no retry`)
  }
})

t.test('429 with a Retry-After beyond --max-wait stops at once with RATE_LIMITED', async (t) => {
  const frozen = Date.now()
  const emu = await emulator(t, { counts: { mail: 5 }, days: 1, clock: () => frozen, faults: { rateLimitRps: 1, retryAfterSeconds: 600 } })
  const limiter = new Limiters({ maxRps: 0 }).for(emu.url)
  const c = client(6, TOKEN, 10_000)
  t.teardown(() => c.close())
  const url = `${emu.url}${mail.path(emu.org)}?${mail.query({ after: (frozen - 86_400_000) * 1000, before: frozen * 1000, token: undefined, pageSize: 100, filters: {} })}`
  t.equal((await c.getPage(mail, url, limiter)).records.length, 5)
  const err = await failure(c.getPage(mail, url, limiter))
  t.equal(err.code, 'RATE_LIMITED')
  t.match(err.message, /asks to wait 600s, more than --max-wait 10s/)
  t.same(emu.stats().byStatus, { 200: 1, 429: 1 })
})

/** One fake clock for the client, the limiter and the emulator: waiting advances it, nothing sleeps for real. */
function fakeClock(start: number): { now: () => number; sleep: (ms: number) => Promise<void>; slept: number[] } {
  let at = start
  const slept: number[] = []
  return { now: () => at, sleep: async (ms: number) => void (slept.push(ms), (at += ms)), slept }
}

for (const form of ['seconds', 'http-date'] as const) {
  // Guards: a 429's Retry-After (both forms) is waited as told, by the host's limiter (the whole host pauses), and the
  // request then succeeds; the client's own backoff sleeps nothing for it. (Replaces a real 2 s wait per 429.)
  t.test(`429 Retry-After in ${form} form is waited as told, on an injected clock`, async (t) => {
    const limiterClock = fakeClock(NOW)
    const backoff = fakeClock(0)
    const emu = await emulator(t, { counts: { mail: 5 }, days: 1, end: NOW, clock: limiterClock.now, faults: { rateLimitRps: 1, retryAfter: form, retryAfterSeconds: 2 } })
    const limiter = new Limiters({ maxRps: 0, now: limiterClock.now, sleep: limiterClock.sleep }).for(emu.url)
    const c = new ApiClient({ token: TOKEN, retries: 6, retryBaseMs: 1, retryMaxMs: 5, maxWaitMs: 60_000, timeoutMs: 5000, connectTimeoutMs: 2000, log, now: limiterClock.now, sleep: backoff.sleep })
    t.teardown(() => c.close())
    const url = `${emu.url}${mail.path(emu.org)}?${mail.query({ after: (NOW - 86_400_000) * 1000, before: NOW * 1000, token: undefined, pageSize: 100, filters: {} })}`
    t.equal((await c.getPage(mail, url, limiter)).records.length, 5)
    t.equal((await c.getPage(mail, url, limiter)).records.length, 5, 'the second request succeeds after its 429')
    t.same(limiterClock.slept, [2000], 'the host paused exactly as long as Retry-After said')
    t.same(backoff.slept, [], 'no backoff sleep on top')
    t.same(emu.stats().byStatus, { 200: 2, 429: 1 })
  })
}

// Guards: the client tells the host's limiter how each request was answered, with the instant the limiter let it
// through, so the adaptive rate is what the host accepted (a first 429 only pauses; the second reads the limit).
t.test('the limiter learns from the answers: the second 429 sets the pace to what the host accepted in the second before', async (t) => {
  const clock = fakeClock(NOW)
  const emu = await emulator(t, { counts: { mail: 5 }, days: 1, end: NOW, clock: clock.now, faults: { rateLimitRps: 2, retryAfter: 'seconds', retryAfterSeconds: 1 } })
  const limiter = new Limiters({ maxRps: 0, now: clock.now, sleep: clock.sleep }).for(emu.url)
  const c = new ApiClient({ token: TOKEN, retries: 6, retryBaseMs: 1, retryMaxMs: 5, maxWaitMs: 60_000, timeoutMs: 5000, connectTimeoutMs: 2000, log, now: clock.now, sleep: clock.sleep })
  t.teardown(() => c.close())
  const url = `${emu.url}${mail.path(emu.org)}?${mail.query({ after: (NOW - 86_400_000) * 1000, before: NOW * 1000, token: undefined, pageSize: 100, filters: {} })}`
  for (let i = 0; i < 3; i++) await c.getPage(mail, url, limiter) // the third meets the host's first 429
  t.equal(limiter.rate, Infinity, 'the first 429 only paused')
  for (let i = 0; i < 2; i++) await c.getPage(mail, url, limiter) // the fifth meets the second, 1 s later
  t.ok(Math.abs(limiter.rate - 2 * 0.95) < 1e-9, `two accepted in the second before it, less 5%: ${limiter.rate}/s`)
  await c.getPage(mail, url, limiter)
  t.same(clock.slept.map((ms) => Math.round(ms)), [1000, 1000, 526], 'two Retry-After pauses, then the pace')
  t.same(emu.stats().byStatus, { 200: 6, 429: 2 })
})

t.test('429 with Retry-After: 0 forever: exponential floor, then RATE_LIMITED at --max-wait (no busy loop)', async (t) => {
  const server = await localServer(t, (_req, res, n) => {
    res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' })
    res.end('{"code":8,"message":"too many requests"}')
  })
  const clock = fakeClock(NOW)
  // Not adaptive: this case is about the retry decision's floor, not the rate a 429 leaves the host at.
  const limiter = new Limiters({ maxRps: 0, now: clock.now, sleep: clock.sleep, adaptive: false }).for('http://127.0.0.1')
  const c = new ApiClient({ token: TOKEN, retries: 6, retryBaseMs: 20, retryMaxMs: 10_000, maxWaitMs: 1000, timeoutMs: 5000, connectTimeoutMs: 2000, log, now: clock.now, sleep: clock.sleep })
  t.teardown(() => c.close())
  const err = await failure(c.getPage(mail, `${server.url}/security/v1/org/1/audit_log/mail`, limiter))
  t.equal(err.code, 'RATE_LIMITED')
  t.match(err.message, /^mail: rate limited \(429\) 6 times over 1s; waiting longer would pass --max-wait 1s; try again later/)
  t.same(clock.slept, [20, 40, 80, 160, 320], 'waits double from --retry-delay; the sixth would pass 1 s in all')
  t.equal(server.requests(), 6)
})

t.test('transient failures back off on the injected sleep: base × 2^retry × (1 + jitter), capped; then API_UNAVAILABLE', async (t) => {
  let failFirst = 3
  const server = await localServer(t, (_req, res, n) => {
    res.setHeader('content-type', 'application/json')
    if (n <= failFirst) {
      res.statusCode = 503
      res.end('{"message":"busy"}')
    } else res.end('{"events":[{"date":"2025-09-10T11:00:00.000Z","uniqId":"1"}],"nextPageToken":""}')
  })
  const url = `${server.url}/security/v1/org/1/audit_log/mail`
  const limiter = new Limiters({ maxRps: 0 }).for(url)
  const make = (retries: number, clock: ReturnType<typeof fakeClock>): ApiClient =>
    new ApiClient({ token: TOKEN, retries, retryBaseMs: 100, retryMaxMs: 300, maxWaitMs: 1000, timeoutMs: 5000, connectTimeoutMs: 2000, log, now: clock.now, sleep: clock.sleep, random: () => 0.5 })

  const ok = fakeClock(NOW)
  const c1 = make(5, ok)
  t.teardown(() => c1.close())
  t.equal((await c1.getPage(mail, url, limiter)).records.length, 1)
  t.same(ok.slept, [150, 300, 300], '150, then capped at 300')
  t.equal(server.requests(), 4)

  server.reset()
  failFirst = 10
  const gaveUp = fakeClock(NOW)
  const c2 = make(2, gaveUp)
  t.teardown(() => c2.close())
  const err = await failure(c2.getPage(mail, url, limiter))
  t.equal(err.code, 'API_UNAVAILABLE')
  t.match(err.message, /^mail: the API kept failing after 3 attempts; last error: server error 503: busy/)
  t.same(gaveUp.slept, [150, 300], 'no wait after the last attempt')
  t.equal(server.requests(), 3)
})

t.test('an abort during a backoff ends the request with the signal\'s reason', async (t) => {
  const emu = await emulator(t, { counts: { mail: 5 }, days: 1, faults: { error5xx: 1 } })
  const ac = new AbortController()
  const reason = new Error('stopped by the run')
  const sleep = async (_ms: number, signal?: AbortSignal): Promise<void> => {
    ac.abort(reason)
    throw signal?.reason
  }
  const c = new ApiClient({ token: TOKEN, retries: 6, retryBaseMs: 1, retryMaxMs: 5, maxWaitMs: 1000, timeoutMs: 5000, connectTimeoutMs: 2000, log, sleep })
  t.teardown(() => c.close())
  await t.rejects(c.getPage(mail, pageUrl(emu, mail), new Limiters({ maxRps: 0 }).for(emu.url), ac.signal), reason)
  t.equal(emu.stats().requests, 1, 'no request after the abort')
})

t.test('pages read by the walk: records kept as bytes, timestamps read from them, invalid JSON and non-pages retried as JSON.parse judges them', async (t) => {
  const recs = ['{"d\\u0061te":"2025-09-10T11:00:00.000Z","n":12345678901234567890}', '[1]', '{"date":5}', '{"date":"2025-09-10T10:00:00Z","date":"2025-09-10T09:00:00Z","s":"Ж\\n"}']
  const good = `{"nextPageToken":"t1", "events" : [${recs.join(' , ')}] }\n`
  const bodies = [
    `{"events":[{"date":"2025-09-10T11:00:00Z","n":01}],"nextPageToken":"x"}`, // a leading zero: not JSON
    '{"events":{"date":"2025-09-10T11:00:00Z"}}', // JSON, but no page
    `{"events":[],"nextPageToken":"x"},`, // trailing garbage
    good,
  ]
  const server = await localServer(t, (_req, res, n) => {
    res.setHeader('content-type', 'application/json')
    res.end(bodies[Math.min(n, bodies.length) - 1])
  })
  const url = `${server.url}/security/v1/org/1/audit_log/mail`
  const logged: string[] = []
  const c = new ApiClient({ token: TOKEN, retries: 5, retryBaseMs: 1, retryMaxMs: 1, maxWaitMs: 1000, timeoutMs: 5000, connectTimeoutMs: 2000, log: pino({ level: 'warn' }, { write: (s: string) => logged.push((JSON.parse(s) as { msg: string }).msg) }), sleep: async () => {} })
  t.teardown(() => c.close())
  const page = await c.getPage(mail, url, new Limiters({ maxRps: 0 }).for(url))
  t.same(logged, [`mail: invalid JSON in a ${Buffer.byteLength(bodies[0])}-byte response; retrying`, 'mail: a response that is not a page of mail; retrying', `mail: invalid JSON in a ${Buffer.byteLength(bodies[2])}-byte response; retrying`])
  t.equal(page.next, 't1')
  const r = page.records
  const texts = r.texts
  t.ok(texts !== undefined, 'the records are bytes of the body')
  t.same(Array.from({ length: r.length }, (_, i) => (texts === undefined ? undefined : texts.body.toString('utf8', texts.spans[i].start, texts.spans[i].end))), recs, 'each record exactly as sent')
  t.same(Array.from({ length: r.length }, (_, i) => r.isObject(i)), [true, false, true, true])
  t.same(Array.from({ length: r.length }, (_, i) => r.instant(i)), [Date.UTC(2025, 8, 10, 11) * 1000, undefined, undefined, Date.UTC(2025, 8, 10, 9) * 1000], 'an escaped key, no object, no string, the last of a duplicated key')
  t.same(r.item(3), { date: '2025-09-10T09:00:00Z', s: 'Ж\n' }, 'a record parsed when asked')
  t.equal(server.requests(), 4)
})

t.test('`sent` is called once per page, when the limiter lets the first attempt go; never for one abandoned in the queue', async (t) => {
  const emu = await emulator(t, { counts: { mail: 50 }, days: 1 })
  const c = client(20)
  t.teardown(() => c.close())
  const limiter = new Limiters({ maxRps: 0 }).for(emu.url)
  let sent = 0
  emu.setFaults({ html502: 0.7, seed: 7 }) // two failures, then a good answer: three attempts
  const page = await c.getPage(mail, pageUrl(emu, mail), limiter, undefined, () => sent++)
  t.equal(page.records.length, 50)
  t.equal(emu.stats().requests, 3, 'three attempts reached the API')
  t.equal(sent, 1, 'one page: counted once, not per attempt')
  emu.setFaults({ html502: 0 })
  emu.resetStats()
  limiter.pause(3_600_000) // every request to the host waits an hour for its turn
  const ac = new AbortController()
  const waiting = c.getPage(mail, pageUrl(emu, mail), limiter, ac.signal, () => sent++)
  ac.abort(new Error('the run stopped'))
  await t.rejects(waiting, { message: 'the run stopped' })
  t.equal(sent, 1, 'abandoned while it waited for its turn: never counted')
  t.equal(emu.stats().requests, 0, 'and never made')
})

t.test('`connections`: as many sockets to a host as asked, never more, whatever the requests waiting', async (t) => {
  // The server holds every request until six are held at once, then answers them all: a pool capped below six would
  // hang here (tap's timeout), one above six would open more sockets for the six requests still queued.
  const held: (() => void)[] = []
  const page = JSON.stringify({ events: [], nextPageToken: '' })
  const srv = await localServer(t, (_req, res) => {
    held.push(() => res.writeHead(200, { 'content-type': 'application/json' }).end(page))
    if (held.length >= 6) for (const answer of held.splice(0)) answer()
  })
  const c = new ApiClient({ token: TOKEN, retries: 0, retryBaseMs: 1, retryMaxMs: 5, maxWaitMs: 60_000, timeoutMs: 5000, connectTimeoutMs: 2000, log, connections: 6 })
  t.teardown(() => c.close())
  const limiter = new Limiters({ maxRps: 0 }).for(srv.url)
  const url = `${srv.url}${mail.path(1)}?${mail.query({ after: 0, before: 1_000_000, token: undefined, pageSize: 100, filters: {} })}`
  const pages = await Promise.all(Array.from({ length: 12 }, () => c.getPage(mail, url, limiter)))
  t.equal(pages.length, 12)
  t.equal(srv.requests(), 12)
  t.equal(srv.connections(), 6, 'six sockets carried the twelve requests')
})
