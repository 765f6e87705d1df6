// Hostile server. Guards: every transient fault is retried (one retry per injected fault, counted in the summary) and
// the archive is exact; records without a timestamp go to <base>.rejected with the reason and are counted, never
// dropped silently; 429 Retry-After is honoured in seconds and HTTP-date form and capped by --max-wait (exit 75 with a
// valid prefix, the next run completes it); a repeated page token and a token that never ends stop with exit 4 after
// a bounded number of requests; empty pages that carry a token mid-result are followed, not taken as the end.
import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FaultKind, Faults } from '../../src/emulator/index.js'
import { TOKEN, checkArchive, cliEnv, emulator, readArchive, runCli } from '../helpers.js'
import { exits, prefixProblems } from './util.js'

const EXACT = { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0 }

const TRANSIENT: { kind: FaultKind; faults: Partial<Faults>; args: string[] }[] = [
  { kind: 'error5xx', faults: { error5xx: 0.3 }, args: [] },
  { kind: 'html502', faults: { html502: 0.3 }, args: [] },
  { kind: 'reset', faults: { reset: 0.3 }, args: [] },
  { kind: 'truncated', faults: { truncated: 0.3 }, args: [] },
  { kind: 'stall', faults: { stall: 0.2 }, args: ['--timeout', '200ms'] },
]

for (const c of TRANSIENT) {
  t.test(`${c.kind}: retried with backoff, one retry per fault, archive exact`, async (t) => {
    const emu = await emulator(t, { counts: { mail: 600 }, days: 1, seed: 31, faults: { ...c.faults, seed: 5 } })
    const dir = t.testdir()
    const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
    const r = await runCli(['--lookback', '2d', '--retries', '10', ...c.args], { env, cwd: dir })
    t.equal(r.code, 0, exits(r, 0, 'exit 0'))
    const faults = emu.stats().faultsInjected[c.kind]
    t.ok(faults >= 2, `${faults} ${c.kind} faults injected`)
    t.match(r.stderr, new RegExp(`mail: ok, fetched \\d+ in \\d+ pages, wrote 600, .* ${faults} retries,`), 'each fault cost exactly one retry')
    t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), emu.truth('mail')), { ...EXACT, total: 600 })
  })
}

t.test('records without a timestamp land in <base>.rejected with the reason, counted; the rest is exact', async (t) => {
  const emu = await emulator(t, { counts: { mail: 400 }, days: 1, seed: 32, faults: { missingTimestamp: 0.05, seed: 9 } })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
  const r = await runCli(['--lookback', '2d', '--max-pages', '50'], { env, cwd: dir })
  t.equal(r.code, 0, exits(r, 0, 'exit 0'))
  const n = emu.stats().faultsInjected.missingTimestamp
  t.ok(n >= 5, `${n} records served without a timestamp`)
  const lines = readFileSync(join(dir, 'mail', 'mail_audit.rejected'), 'utf8').split('\n').slice(0, -1).map((l) => JSON.parse(l) as { at: string; source: string; reason: string; record: Record<string, unknown> })
  t.equal(lines.length, n, 'every rejected record is kept')
  for (const l of lines) {
    t.same([l.source, l.reason, 'date' in l.record, typeof l.record.uniqId], ['mail', 'no valid timestamp', false, 'string'])
  }
  t.match(r.stderr, new RegExp(`mail: ok, fetched 400 in \\d+ pages, wrote ${400 - n}, .* ${n} rejected,`))
  const truth = emu.truth('mail')
  const rejectedIds = new Set(lines.map((l) => l.record.uniqId))
  t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), truth.filter((x) => !rejectedIds.has((x as { uniqId: string }).uniqId))), { ...EXACT, total: 400 - n }, 'nothing else is missing')
})

t.test('429 Retry-After in seconds and HTTP-date form is honoured', async (t) => {
  for (const form of ['seconds', 'http-date'] as const) {
    const emu = await emulator(t, { counts: { mail: 300 }, days: 1, seed: 33, faults: { rateLimitRps: 2, retryAfter: form, retryAfterSeconds: 2 } })
    const dir = t.testdir()
    const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
    const r = await runCli(['--lookback', '2d', '--concurrency', '1', '--max-pages', '50'], { env, cwd: dir })
    t.equal(r.code, 0, exits(r, 0, `${form}: exit 0`))
    const waits = [...r.stderr.matchAll(/"waitMs":(\d+)/g)].map((m) => Number(m[1]))
    t.ok(waits.length > 0 && waits.length === emu.stats().faultsInjected.rateLimited, `${form}: every 429 waited (${waits.join(', ')} ms)`)
    // seconds: exactly 2000 ms; HTTP-date has 1 s resolution, so the wait is 1–2 s from when the 429 was sent.
    t.ok(waits.every((w) => (form === 'seconds' ? w === 2000 : w > 900 && w <= 2000)), `${form}: the waits follow Retry-After`)
    t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), emu.truth('mail')), { ...EXACT, total: 300 })
  }
})

t.test('429 asking for more than --max-wait: exit 75 with a valid prefix; the next run completes it', async (t) => {
  for (const form of ['seconds', 'http-date'] as const) {
    const emu = await emulator(t, { counts: { mail: 2000 }, days: 1.5, seed: 34, faults: { rateLimitRps: 12, retryAfter: form, retryAfterSeconds: 120 } })
    const dir = t.testdir()
    const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
    const r = await runCli(['--lookback', '2d', '--concurrency', '1', '--max-wait', '5s'], { env, cwd: dir })
    t.equal(r.code, 75, exits(r, 75, `${form}: exit 75 (EX_TEMPFAIL)`))
    t.match(r.stderr, /mail: rate limited \(429\); the API asks to wait 1[12]\ds, more than --max-wait 5s allows; try again later \(X-Request-Id [0-9a-f-]{36}\)/)
    t.match(r.stderr, /mail: FAILED \(RATE_LIMITED\)/)
    const partial = readArchive(join(dir, 'mail'), 'mail_audit')
    t.ok(partial.lines.length > 0, `${form}: what was fetched before the 429 was written (${partial.lines.length})`)
    t.same(prefixProblems('mail', partial, emu.truth('mail')), [])
    emu.setFaults({ rateLimitRps: 0 })
    const next = await runCli([], { env, cwd: dir })
    t.equal(next.code, 0, exits(next, 0, `${form}: the next run exits 0`))
    t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), emu.truth('mail')), { ...EXACT, total: 2000 })
  }
})

t.test('empty pages that still carry a token are followed (not the end); the archive is exact', async (t) => {
  const emu = await emulator(t, { counts: { mail: 800, events: 800 }, days: 1, seed: 35, faults: { emptyPageWithToken: 0.25, seed: 3 } })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), NEW_LOG_CATALOG_LOCATION: join(dir, 'events') })
  const r = await runCli(['--lookback', '2d', '--max-pages', '50'], { env, cwd: dir })
  t.equal(r.code, 0, exits(r, 0, 'exit 0'))
  t.ok(emu.stats().faultsInjected.emptyPageWithToken >= 3)
  t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), emu.truth('mail')), { ...EXACT, total: 800 })
  t.same(checkArchive('events', readArchive(join(dir, 'events'), 'y360_audit'), emu.truth('events')), { ...EXACT, total: 800 })
})

t.test('a token that never ends (only empty pages, fresh tokens) stops with exit 4 after a bounded number of requests', async (t) => {
  const emu = await emulator(t, { counts: { mail: 100 }, days: 1, seed: 36, faults: { emptyPageWithToken: 1 } })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
  const r = await runCli(['--lookback', '2d', '--concurrency', '1'], { env, cwd: dir })
  t.equal(r.code, 4, exits(r, 4, 'exit 4'))
  t.match(r.stderr, /mail: the API sent 10 empty pages in a row that still carry a next token in .* \(a token that never ends\)/)
  t.equal(emu.stats().requests, 40, 'four passes of 10 pages over the first window, then the run stops')
  t.notOk(existsSync(join(dir, 'mail', 'mail_audit.rejected')))
})

t.test('a repeated page token stops with exit 4 after refetching the window three times; nothing is written', async (t) => {
  const day = new Date().toISOString().slice(0, 10)
  const rec = (i: number): object => ({ eventType: 'message_seen', date: `${day}T00:00:0${i}.000Z`, orgId: 123, userUid: '1', uniqId: String(i) })
  let requests = 0
  const server = createServer((req, res) => {
    requests++
    const token = new URL(req.url ?? '/', 'http://x').searchParams.get('pageToken')
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify(token === null ? { events: [rec(2), rec(1)], nextPageToken: 'AAA' } : { events: [rec(0)], nextPageToken: 'AAA' }))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const dir = t.testdir()
  const env = { PATH: process.env.PATH ?? '', TZ: 'UTC', OAUTH_TOKEN_ARG: TOKEN, ORGANIZATION_ID_ARG: '123', Y360_API_URL: url, Y360_CLOUD_API_URL: url, Y360_RETRY_DELAY: '5ms', Y360_LOG_FILE: '', MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') }
  const r = await runCli(['--since', `${day}T00:00:00Z`, '--until', `${day}T00:00:10Z`, '--concurrency', '1'], { env, cwd: dir })
  t.equal(r.code, 4, exits(r, 4, 'exit 4 (BAD_PAGE)'))
  t.match(r.stderr, 'mail: the API repeated a page token')
  t.equal(requests, 8, 'four passes of two pages, then the run stops')
  t.same(readArchive(join(dir, 'mail'), 'mail_audit').lines, [], 'a window that could not be read completely is not written')
})

t.test('a server that answers 429 with Retry-After: 0 forever cannot make a busy loop: backoff, then exit 75 at --max-wait', async (t) => {
  let requests = 0
  const server = createServer((_req, res) => {
    requests++
    res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' })
    res.end('{"code":8,"message":"too many requests"}')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const dir = t.testdir()
  const env = { PATH: process.env.PATH ?? '', TZ: 'UTC', OAUTH_TOKEN_ARG: TOKEN, ORGANIZATION_ID_ARG: '123', Y360_API_URL: url, Y360_CLOUD_API_URL: url, Y360_RETRY_DELAY: '20ms', MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') }
  const r = await runCli(['--lookback', '1h', '--concurrency', '1', '--max-wait', '1s', '--no-log-file'], { env, cwd: dir })
  t.equal(r.code, 75, exits(r, 75, 'exit 75'))
  t.match(r.stderr, /mail: rate limited \(429\) \d+ times over \ds; waiting longer would pass --max-wait 1s; try again later/)
  // Backoff 20, 40, 80, 160, 320 ms… passes 1 s after 6 answers; a busy loop would have sent thousands.
  t.ok(requests >= 4 && requests <= 8, `${requests} requests in all`)
})
