// Every fault over real HTTP: latency, 429 + Retry-After (both forms), 5xx, HTML 502, reset, truncated, stall, empty page with token, missing timestamp.
import t from 'tap'
import { Agent, request } from 'undici'
import { DEFAULT_FAULTS, startEmulator } from '../../src/emulator/index.js'
import { NOW, fakeClock, get, iso, pageAll, pathOf, sameJson } from './fixtures/helpers.js'

t.test('faults', async (t) => {
  const clock = fakeClock()
  const emu = await startEmulator({ clock: clock.now, counts: { mail: 300, disk: 100, events: 300 } })
  t.teardown(() => emu.close())
  const mailPath = pathOf('mail', emu.org)
  const clean = (): void => { emu.setFaults({ ...DEFAULT_FAULTS }); emu.resetStats() }

  t.test('latency delays the answer', async (t) => {
    // Without the wall clock: a request held by a long latency is overtaken by a later one without latency, and is
    // still in flight after it; a short latency is answered normally.
    const other = await startEmulator({ clock: clock.now, counts: { mail: 5 }, faults: { latencyMs: 600_000 } })
    t.teardown(() => other.close())
    const held = get(other, mailPath, '').then((r) => r.status, (e: Error) => e)
    while (other.stats().requests === 0) await new Promise((r) => setImmediate(r))
    other.setFaults({ latencyMs: 0 })
    t.equal((await get(other, mailPath, '')).status, 200, 'a later request without latency is answered first')
    t.same([other.stats().inFlight, other.stats().faultsInjected.latency], [1, 1], 'the first one is still held')
    await other.close()
    t.type(await held, Error, 'close() ends a held request')
    clean()
    emu.setFaults({ latencyMs: 20, jitterMs: 10 })
    t.equal((await get(emu, mailPath, '')).status, 200)
    t.equal(emu.stats().faultsInjected.latency, 1)
    clean()
  })

  t.test('latency: the answer is worked out when the request arrives, and sent after the latency', async (t) => {
    // A record that arrives while a request waits out its latency is not in its answer: the emulator's own work lies
    // inside the latency (done after it, 16 requests at once queued behind each other's pages).
    const other = await startEmulator({ clock: clock.now, counts: { mail: 5 }, faults: { latencyMs: 40 } })
    t.teardown(() => other.close())
    const waiting = get(other, mailPath, 'pageSize=100')
    while (other.stats().requests === 0) await new Promise((r) => setImmediate(r))
    other.inject('mail', 1)
    const first = await waiting
    t.equal(first.status, 200)
    t.equal((first.json.events as unknown[]).length, 5, 'the page as it was when the request arrived')
    t.equal(((await get(other, mailPath, 'pageSize=100')).json.events as unknown[]).length, 6, 'the next request sees the new record')
  })

  t.test('429 above R requests/s with Retry-After seconds, http-date or none; the window follows the clock', async (t) => {
    clean()
    emu.setFaults({ rateLimitRps: 2, retryAfter: 'seconds', retryAfterSeconds: 3 })
    t.equal((await get(emu, mailPath, '')).status, 200)
    t.equal((await get(emu, mailPath, '')).status, 200)
    const r = await get(emu, mailPath, '')
    t.equal(r.status, 429)
    t.equal(r.headers['retry-after'], '3')
    t.equal(r.json.code, 8)
    t.ok(r.headers['x-request-id'])
    emu.setFaults({ retryAfter: 'http-date' }) // resets the window
    await get(emu, mailPath, ''); await get(emu, mailPath, '')
    const d = await get(emu, pathOf('events', emu.org), `count=1&ended_at=${iso(NOW)}`)
    t.equal(d.status, 429)
    t.equal(d.headers['retry-after'], new Date(NOW + 3000).toUTCString())
    t.equal(d.json.error, 'TooManyRequestsError')
    clock.advance(1001)
    t.equal((await get(emu, mailPath, '')).status, 200, 'a new second, a new budget')
    emu.setFaults({ retryAfter: 'none' })
    await get(emu, mailPath, ''); await get(emu, mailPath, '')
    const n = await get(emu, mailPath, '')
    t.equal(n.status, 429)
    t.equal(n.headers['retry-after'], undefined)
    t.equal(emu.stats().faultsInjected.rateLimited, 3)
    clock.set(NOW)
    clean()
  })

  t.test('error5xx: 500/502/503 with JSON bodies, deterministic by seed', async (t) => {
    clean()
    emu.setFaults({ error5xx: 1, seed: 5 })
    const seen: number[] = []
    for (let i = 0; i < 12; i++) {
      const r = await get(emu, mailPath, '')
      t.ok([500, 502, 503].includes(r.status))
      t.type(r.json.code, 'number')
      seen.push(r.status)
    }
    t.ok(new Set(seen).size >= 2, 'a mix of statuses')
    emu.setFaults({ seed: 5 })
    const again: number[] = []
    for (let i = 0; i < 12; i++) again.push((await get(emu, mailPath, '')).status)
    t.same(again, seen, 'same seed, same sequence')
    emu.setFaults({ error5xx: 0.5, seed: 9 })
    let fails = 0
    for (let i = 0; i < 40; i++) if ((await get(emu, mailPath, '')).status !== 200) fails++
    t.ok(fails > 5 && fails < 35, `probability is honoured (${fails}/40)`)
    t.equal(emu.stats().faultsInjected.error5xx, 24 + fails)
    clean()
  })

  t.test('html502: text/html page', async (t) => {
    clean()
    emu.setFaults({ html502: 1 })
    const r = await get(emu, pathOf('events', emu.org), `count=1&ended_at=${iso(NOW)}`)
    t.equal(r.status, 502)
    t.match(r.headers['content-type'], /text\/html/)
    t.match(r.text, /<html>/)
    t.equal(r.json, undefined)
    t.ok(r.headers['x-request-id'])
    clean()
  })

  t.test('reset: the body read fails', async (t) => {
    clean()
    emu.setFaults({ reset: 1 })
    await t.rejects(async () => {
      const res = await request(`${emu.url}${mailPath}?pageSize=100`, { headers: { authorization: `OAuth ${emu.token}` } })
      await res.body.text()
    })
    t.equal(emu.stats().faultsInjected.reset, 1)
    clean()
  })

  t.test('truncated: complete response, invalid JSON', async (t) => {
    clean()
    emu.setFaults({ truncated: 1 })
    const r = await get(emu, mailPath, 'pageSize=20')
    t.equal(r.status, 200)
    t.throws(() => JSON.parse(r.text))
    t.ok(r.text.startsWith('{"events":['))
    clean()
  })

  t.test('stall: never answers; the client times out; close() ends it', async (t) => {
    clean()
    emu.setFaults({ stall: 1 })
    const agent = new Agent({ headersTimeout: 150, bodyTimeout: 150 })
    t.teardown(() => agent.close())
    await t.rejects(request(`${emu.url}${mailPath}`, { dispatcher: agent, headers: { authorization: `OAuth ${emu.token}` } }), { code: 'UND_ERR_HEADERS_TIMEOUT' })
    t.equal(emu.stats().faultsInjected.stall, 1)
    clean()
    // a stalled socket must not keep close() waiting
    const other = await startEmulator({ clock: clock.now, counts: { mail: 1 }, faults: { stall: 1 } })
    const pending = request(`${other.url}${mailPath}`, { headers: { authorization: `OAuth ${other.token}` } }).catch((e: Error) => e)
    while (other.stats().requests === 0) await new Promise((r) => setImmediate(r))
    await other.close()
    t.type(await pending, Error, 'the stalled request fails when the emulator closes')
  })

  t.test('emptyPageWithToken: an empty page that continues at the same offset with a fresh token', async (t) => {
    clean()
    emu.setFaults({ emptyPageWithToken: 0.3, seed: 3 })
    const { records, pages } = await pageAll(emu, 'mail', 50, [])
    t.ok(pages.slice(0, -1).includes(0), 'some empty pages in the middle')
    sameJson(t, records.reverse(), emu.truth('mail'), 'nothing lost or repeated')
    t.ok(emu.stats().faultsInjected.emptyPageWithToken > 0)
    clean()
  })

  t.test('missingTimestamp: records served without their timestamp field', async (t) => {
    clean()
    emu.setFaults({ missingTimestamp: 1 })
    const m = await get(emu, mailPath, 'pageSize=5')
    t.ok(m.json.events.every((e: any) => !('date' in e) && 'uniqId' in e))
    const e = await get(emu, pathOf('events', emu.org), `count=5&ended_at=${iso(NOW)}`)
    t.ok(e.json.items.every((i: any) => !('occurred_at' in i.event) && 'idempotency_id' in i.event))
    t.equal(emu.stats().faultsInjected.missingTimestamp, 10)
    clean()
  })

  t.test('faults never touch /__admin/; admin sets faults at runtime', async (t) => {
    clean()
    const set = await request(`${emu.url}/__admin/faults`, { method: 'POST', body: JSON.stringify({ error5xx: 1, stall: 0 }) })
    t.equal(set.statusCode, 200)
    t.equal((await set.body.json() as any).error5xx, 1)
    const s = await request(`${emu.url}/__admin/stats`)
    t.equal(s.statusCode, 200)
    await s.body.json()
    t.equal((await get(emu, mailPath, '')).status >= 500, true)
    const bad = await request(`${emu.url}/__admin/faults`, { method: 'POST', body: '{"error5xx":2}' })
    t.equal(bad.statusCode, 400)
    await bad.body.text()
    clean()
  })
})

t.test('stats, request log and reset over admin', async (t) => {
  const emu = await startEmulator({ clock: fakeClock().now, counts: { mail: 120, events: 10 } })
  t.teardown(() => emu.close())
  await pageAll(emu, 'mail', 50, [['types', 'message_seen'], ['types', 'mailbox_send']])
  await get(emu, pathOf('events', emu.org), 'count=5')
  const s = await (await request(`${emu.url}/__admin/stats`)).body.json() as any
  t.equal(s.requests, emu.stats().requests)
  t.equal(s.bySource.mail, s.pagesServed)
  t.equal(s.bySource.events, 1)
  t.equal(s.byStatus['400'], 1)
  t.equal(s.recordsServed, emu.truth('mail', { types: ['message_seen', 'mailbox_send'] }).length)
  t.equal(s.peakConcurrency, 1)
  const log = await (await request(`${emu.url}/__admin/requests`)).body.json() as any[]
  t.equal(log[0].method, 'GET')
  t.equal(log[0].path, pathOf('mail', emu.org))
  t.equal(log[0].query, 'types=message_seen&types=mailbox_send&pageSize=50')
  t.equal(log[0].source, 'mail')
  t.equal(log.at(-1).status, 400)
  t.same(emu.requests(), log)
  const inj = await request(`${emu.url}/__admin/inject`, { method: 'POST', body: '{"source":"events","n":2,"lateSeconds":30}' })
  const injected = await inj.body.json() as any[]
  t.equal(injected.length, 2)
  t.ok(injected.every((r) => Date.parse(r.event.occurred_at) >= NOW - 30_000 && Date.parse(r.event.occurred_at) <= NOW))
  const reset = await request(`${emu.url}/__admin/stats/reset`, { method: 'POST' })
  await reset.body.text()
  t.equal(emu.stats().requests, 0)
  t.same(emu.requests(), [])
})

t.test('concurrency is tracked', async (t) => {
  // The four requests are held (a latency far longer than the test) until all have arrived, however slowly they come.
  const emu = await startEmulator({ clock: fakeClock().now, counts: { mail: 10 }, faults: { latencyMs: 600_000 } })
  t.teardown(() => emu.close())
  const pending = [1, 2, 3, 4].map(() => get(emu, pathOf('mail', emu.org), '').catch((e: Error) => e))
  while (emu.stats().requests < 4) await new Promise((r) => setImmediate(r))
  t.same([emu.stats().peakConcurrency, emu.stats().inFlight], [4, 4])
  await emu.close()
  t.ok((await Promise.all(pending)).every((r) => r instanceof Error), 'close() ends them')
  t.equal(emu.stats().inFlight, 0)
})
