// Hostile server. Guards: every transient fault is retried (one retry per injected fault, counted in the summary) and
// the archive is exact; records without a timestamp go to <base>.rejected with the reason and are counted, never
// dropped silently; 429 Retry-After is honoured in seconds and HTTP-date form and capped by --max-wait (exit 75 with a
// valid prefix, the next run completes it); a repeated page token and a token that never ends stop with exit 4 after
// a bounded number of requests; empty pages that carry a token mid-result are followed, not taken as the end.
// No process matters here: every run goes through main() in this process (runMain), against the emulator over HTTP.
import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Emulator, FaultKind, Faults } from '../../src/emulator/index.js'
import { TOKEN, checkArchive, cliEnv, emulator, fakeTimer, localServer, readArchive, runMain } from '../helpers.js'
import { archivedLines, exits, logLines, prefixProblems, summaryOf } from './util.js'

const EXACT = { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0 }

// Each kind at random (seeded), except stalls: a stall costs a whole --timeout, so exactly the first two requests stall.
// The timeout is what is under test there; 600 ms leaves a busy machine room to answer every other request in time (a
// late answer would be one more retry than faults; answers take ~10-100 ms under load) and stays under 1 s, where
// undici's coarse timers add up to 0.5 s. The two stalls are sequential (the first request, then its retry).
const TRANSIENT: { kind: FaultKind; faults: Partial<Faults>; firstStall?: number; args: string[] }[] = [
  { kind: 'error5xx', faults: { error5xx: 0.3 }, args: [] },
  { kind: 'html502', faults: { html502: 0.3 }, args: [] },
  { kind: 'reset', faults: { reset: 0.3 }, args: [] },
  { kind: 'truncated', faults: { truncated: 0.3 }, args: [] },
  { kind: 'stall', faults: {}, firstStall: 2, args: ['--timeout', '600ms'] },
]

for (const c of TRANSIENT) {
  t.test(`${c.kind}: retried with backoff, one retry per fault, archive exact`, async (t) => {
    let emu: Emulator | undefined
    const onRequest = c.firstStall === undefined ? undefined : (n: number): void => emu?.setFaults({ stall: n <= (c.firstStall as number) ? 1 : 0 })
    emu = await emulator(t, { counts: { mail: 600 }, days: 1, seed: 31, faults: { ...c.faults, seed: 5 }, onRequest })
    const dir = t.testdir()
    const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
    // Backoffs wait on a fake clock (no real time); a stall's --timeout is undici's own, real timer.
    const r = await runMain(['--lookback', '2d', '--retries', '10', ...c.args], { env, cwd: dir, timer: fakeTimer(Date.now()) })
    t.equal(r.code, 0, exits(r, 0, 'exit 0'))
    const faults = emu.stats().faultsInjected[c.kind]
    t.ok(faults >= 2, `${faults} ${c.kind} faults injected`)
    t.match(summaryOf(r, 'mail'), { ok: true, written: 600, retries: faults }, 'each fault cost exactly one retry')
    t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), emu.truth('mail')), { ...EXACT, total: 600 })
  })
}

t.test('records without a timestamp land in <base>.rejected with the reason, counted; the rest is exact', async (t) => {
  const emu = await emulator(t, { counts: { mail: 400 }, days: 1, seed: 32, faults: { missingTimestamp: 0.05, seed: 9 } })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
  const r = await runMain(['--lookback', '2d', '--max-pages', '50'], { env, cwd: dir })
  t.equal(r.code, 0, exits(r, 0, 'exit 0'))
  const n = emu.stats().faultsInjected.missingTimestamp
  t.ok(n >= 5, `${n} records served without a timestamp`)
  const lines = readFileSync(join(dir, 'mail', 'mail_audit.rejected'), 'utf8').split('\n').slice(0, -1).map((l) => JSON.parse(l) as { at: string; source: string; reason: string; record: Record<string, unknown> })
  t.equal(lines.length, n, 'every rejected record is kept')
  for (const l of lines) {
    t.same([l.source, l.reason, 'date' in l.record, typeof l.record.uniqId], ['mail', 'no valid timestamp', false, 'string'])
  }
  const sum = summaryOf(r, 'mail')
  t.match(sum, { ok: true, written: 400 - n, rejected: n })
  // Each record received once, or once more as a neighbour or at the re-read instant of a cut pass (counted apart).
  t.equal(sum.fetched, 400 + Number(sum.refetched ?? 0) + Number(sum.neighbours ?? 0), 'fetched: the 400, plus what is counted refetched or a neighbour\'s')
  const truth = emu.truth('mail')
  const rejectedIds = new Set(lines.map((l) => l.record.uniqId))
  t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), truth.filter((x) => !rejectedIds.has((x as { uniqId: string }).uniqId))), { ...EXACT, total: 400 - n }, 'nothing else is missing')
})

t.test('429 Retry-After in seconds and HTTP-date form is honoured', async (t) => {
  for (const form of ['seconds', 'http-date'] as const) {
    // The emulator and the run share one fake clock that moves only when the run waits: exactly one 429 (the 3rd
    // request, right after the 2nd, against one request per second allowed); its wait moves the clock by what the
    // Retry-After asked, so the retry is let through, and the limit is then lifted. No real time passes.
    const start = Date.parse('2026-06-15T12:00:00.250Z')
    const timer = fakeTimer(start)
    let emu: Emulator | undefined
    emu = await emulator(t, {
      counts: { mail: 300 }, days: 1, seed: 33, clock: timer.now,
      faults: { retryAfter: form, retryAfterSeconds: form === 'seconds' ? 1 : 2 },
      onRequest: (n) => {
        if (n === 2) emu?.setFaults({ rateLimitRps: 1 }) // (an update empties the rate window)
        if (n === 4) emu?.setFaults({ rateLimitRps: 0 })
      },
    })
    const dir = t.testdir()
    const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
    const r = await runMain(['--lookback', '2d', '--concurrency', '1', '--max-pages', '50'], { env, cwd: dir, now: timer.now, timer })
    t.equal(r.code, 0, exits(r, 0, `${form}: exit 0`))
    t.equal(emu.stats().faultsInjected.rateLimited, 1, `${form}: one 429`)
    const waits = logLines(r.stderr).filter((l) => typeof l.waitMs === 'number').map((l) => l.waitMs as number)
    // Seconds: exactly 1000 ms. HTTP-date: the date (written at the fake 12:00:00.250, 2 s ahead, whole seconds) is
    // 12:00:02, read at the same fake instant: 1750 ms.
    const expected = form === 'seconds' ? 1000 : 1750
    t.same(waits, [expected], `${form}: the 429 was waited for, ${expected} ms`)
    // What follows the first wait is the host's lowered rate pacing the next requests (src/sources/limiter.ts).
    t.equal(timer.slept[0], expected, `${form}: the run's first wait is exactly the Retry-After`)
    t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), emu.truth('mail')), { ...EXACT, total: 300 })
  }
})

t.test('429 asking for more than --max-wait: exit 75 with a valid prefix; the next run completes it', async (t) => {
  for (const form of ['seconds', 'http-date'] as const) {
    // The emulator's clock stands still at the real start, so its rate window never empties: once a record is on disk,
    // one request per second is allowed and the next one is refused, whatever the machine's speed; the HTTP-date
    // (start + 120 s) is still ~2 min ahead when the client reads it. Each answer takes 25 ms, so that the 14 pages
    // take ~350 ms and records reach the disk while requests are still to come: without it a fast client fetched all of
    // them before its first window was written (the records written first are the oldest, so the 429 must come after
    // a write, not after a number of requests), and no 429 came.
    const start = Date.now()
    const dir = t.testdir()
    const mail = join(dir, 'mail')
    let struck = false
    let emu: Emulator | undefined
    emu = await emulator(t, {
      counts: { mail: 1000 }, days: 1.5, seed: 34, clock: () => start, faults: { retryAfter: form, retryAfterSeconds: 120, latencyMs: 25 },
      onRequest: () => {
        if (!struck && archivedLines(mail) > 0) {
          struck = true
          emu?.setFaults({ rateLimitRps: 1 })
        }
      },
    })
    const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mail })
    const r = await runMain(['--lookback', '2d', '--concurrency', '1', '--max-pages', '2', '--max-wait', '5s'], { env, cwd: dir, now: () => start })
    t.equal(r.code, 75, exits(r, 75, `${form}: exit 75 (EX_TEMPFAIL)`))
    t.equal(emu.stats().faultsInjected.rateLimited, 1, 'the run stopped at the first 429')
    t.match(r.stderr, /mail: rate limited \(429\); the API asks to wait 1\d\ds, more than --max-wait 5s allows; try again later \(X-Request-Id [0-9a-f-]{36}\)/)
    t.match(summaryOf(r, 'mail'), { ok: false, code: 'RATE_LIMITED' })
    const partial = readArchive(join(dir, 'mail'), 'mail_audit')
    t.ok(partial.lines.length > 0, `${form}: what was fetched before the 429 was written (${partial.lines.length})`)
    t.same(prefixProblems('mail', partial, emu.truth('mail')), [])
    emu.setFaults({ rateLimitRps: 0 })
    const next = await runMain([], { env, cwd: dir, now: () => start })
    t.equal(next.code, 0, exits(next, 0, `${form}: the next run exits 0`))
    t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), emu.truth('mail')), { ...EXACT, total: 1000 })
  }
})

t.test('empty pages that still carry a token are followed (not the end); the archive is exact', async (t) => {
  const emu = await emulator(t, { counts: { mail: 800, events: 800 }, days: 1, seed: 35, faults: { emptyPageWithToken: 0.25, seed: 3 } })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), NEW_LOG_CATALOG_LOCATION: join(dir, 'events') })
  const r = await runMain(['--lookback', '2d', '--max-pages', '50'], { env, cwd: dir })
  t.equal(r.code, 0, exits(r, 0, 'exit 0'))
  t.ok(emu.stats().faultsInjected.emptyPageWithToken >= 3)
  t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), emu.truth('mail')), { ...EXACT, total: 800 })
  t.same(checkArchive('events', readArchive(join(dir, 'events'), 'y360_audit'), emu.truth('events')), { ...EXACT, total: 800 })
})

t.test('a token that never ends (only empty pages, fresh tokens) stops with exit 4 after a bounded number of requests', async (t) => {
  const emu = await emulator(t, { counts: { mail: 100 }, days: 1, seed: 36, faults: { emptyPageWithToken: 1 } })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
  const r = await runMain(['--lookback', '2d', '--concurrency', '1'], { env, cwd: dir })
  t.equal(r.code, 4, exits(r, 4, 'exit 4'))
  t.match(r.stderr, /mail: the API sent 10 empty pages in a row that still carry a next token in .* \(a token that never ends\)/)
  t.equal(emu.stats().requests, 40, 'four passes of 10 pages over the first window, then the run stops')
  t.notOk(existsSync(join(dir, 'mail', 'mail_audit.rejected')))
})

t.test('a repeated page token stops with exit 4 after refetching the window three times; nothing is written', async (t) => {
  // Yesterday, not today: today's 00:00:00..00:00:10 would lie after now in the first seconds after midnight UTC.
  const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10)
  const rec = (i: number): object => ({ eventType: 'message_seen', date: `${day}T00:00:0${i}.000Z`, orgId: 123, userUid: '1', uniqId: String(i) })
  const server = await localServer(t, (req, res, n) => {
    const token = new URL(req.url ?? '/', 'http://x').searchParams.get('pageToken')
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify(token === null ? { events: [rec(2), rec(1)], nextPageToken: 'AAA' } : { events: [rec(0)], nextPageToken: 'AAA' }))
  })
  const url = server.url
  const dir = t.testdir()
  const env = { PATH: process.env.PATH ?? '', TZ: 'UTC', OAUTH_TOKEN_ARG: TOKEN, ORGANIZATION_ID_ARG: '123', Y360_API_URL: url, Y360_CLOUD_API_URL: url, Y360_RETRY_DELAY: '5ms', Y360_LOG_FILE: '', MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') }
  const r = await runMain(['--since', `${day}T00:00:00Z`, '--until', `${day}T00:00:10Z`, '--concurrency', '1'], { env, cwd: dir })
  t.equal(r.code, 4, exits(r, 4, 'exit 4 (BAD_PAGE)'))
  t.match(r.stderr, 'mail: the API repeated a page token')
  t.equal(server.requests(), 9, 'the probe\'s one page, then four passes of two pages over the rest, then the run stops')
  t.same(readArchive(join(dir, 'mail'), 'mail_audit').lines, [], 'a window that could not be read completely is not written')
})

t.test('a server that answers 429 with Retry-After: 0 forever cannot make a busy loop: backoff, then exit 75 at --max-wait', async (t) => {
  const server = await localServer(t, (_req, res) => {
    res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' })
    res.end('{"code":8,"message":"too many requests"}')
  })
  const url = server.url
  const dir = t.testdir()
  const env = { PATH: process.env.PATH ?? '', TZ: 'UTC', OAUTH_TOKEN_ARG: TOKEN, ORGANIZATION_ID_ARG: '123', Y360_API_URL: url, Y360_CLOUD_API_URL: url, Y360_RETRY_DELAY: '20ms', MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') }
  const timer = fakeTimer(Date.now())
  const r = await runMain(['--lookback', '1h', '--concurrency', '1', '--max-wait', '1s', '--no-log-file'], { env, cwd: dir, timer })
  t.equal(r.code, 75, exits(r, 75, 'exit 75'))
  t.match(r.stderr, /mail: rate limited \(429\) \d+ times over \ds; waiting longer would pass --max-wait 1s; try again later/)
  // On the fake clock only the waits pass time: the backoff (20 ms first) and the host's rate, lowered by each 429,
  // reach --max-wait 1 s after a few answers; a busy loop would have sent thousands.
  t.ok(server.requests() >= 3 && server.requests() <= 8, `${server.requests()} requests in all`)
  t.equal(timer.slept[0], 20, 'the first wait is the backoff base (--retry-delay), not Retry-After: 0')
  t.ok(timer.slept.every((ms, i) => ms > 0 && (i === 0 || ms >= timer.slept[i - 1])), `the waits grow: ${timer.slept.join(', ')} ms`)
})
