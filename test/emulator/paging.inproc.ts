// Paging semantics: exact ground truth under random page sizes and bounds, offset shifts on arrivals, retention, depth cap.
import t from 'tap'
import { startEmulator, type SourceName } from '../../src/emulator/index.js'
import { Rng } from '../../src/emulator/prng.js'
import { NOW, fakeClock, get, idOf, iso, pageAll, pageQuery, pathOf, sameJson } from './fixtures/helpers.js'

const DAY = 86_400_000

/** µs instant → `...ffffff+00:00`. */
function isoUs(us: number): string {
  return new Date(Math.floor(us / 1000)).toISOString().slice(0, 19) + '.' + String(us % 1e6).padStart(6, '0') + '+00:00'
}
/** Timestamp string of a record → µs. */
function usOf(source: SourceName, rec: any): number {
  const s: string = source === 'events' ? rec.event.occurred_at : rec.date
  const m = /^(.{19})(?:\.(\d+))?(Z|\+00:00)$/.exec(s)!
  return Date.parse(m[1] + 'Z') * 1000 + Number((m[2] ?? '').padEnd(6, '0'))
}

t.test('property: page sizes and bounds give exactly the truth (no gap, no repeat)', async (t) => {
  const emu = await startEmulator({ clock: fakeClock().now, counts: { mail: 700, disk: 700, events: 700 }, days: 2, seed: 7 })
  t.teardown(() => emu.close())
  const rng = new Rng(2024)
  for (const source of ['mail', 'disk', 'events'] as const) {
    const all = emu.truth(source) as any[]
    const instants = all.map((r) => usOf(source, r))
    const count = new Map<number, number>()
    for (const us of instants) count.set(us, (count.get(us) ?? 0) + 1)
    const burst = [...count].reduce((m, e) => (e[1] > m[1] ? e : m))[0] // 210 records on one instant (700 records make one)
    const twin = [...count].find(([us, n]) => n === 2 && us !== burst)?.[0] as number
    const next = instants.find((us, i) => i > 0 && us - instants[i - 1] === 1) // events: 1 µs neighbours
    t.ok(count.get(burst) === 210 && twin !== undefined && (source !== 'events' || next !== undefined), `${source}: a burst of ${count.get(burst)}, twins, 1 µs neighbours`)
    // The sharp cases (small pages where equal instants cross page boundaries, bounds on and beside a burst), then
    // random ones (pages of 10-100: smaller pages over hundreds of records only cost requests).
    const cases: { size: number; a?: number; b?: number }[] = [
      { size: 100 }, { size: 100, a: burst, b: burst }, { size: 7, a: burst - 1, b: burst + 1 },
      { size: 1, a: twin - 1000, b: twin + 1000 }, { size: 50, a: burst + 1 }, { size: 50, b: burst - 1 },
      ...(next === undefined ? [] : [{ size: 1, a: next, b: next }, { size: 1, a: next - 1, b: next - 1 }]),
    ]
    const pickUs = (): number => (rng.chance(0.5) ? rng.pick(instants) + rng.pick([0, 0, -1, 1, 999, -1000]) : (NOW - 2 * DAY) * 1000 + rng.int(2 * DAY) * 1000 + rng.int(1000))
    for (let i = 0; i < 10; i++) {
      let a = rng.chance(0.15) ? undefined : pickUs()
      let b = rng.chance(0.15) ? undefined : pickUs()
      if (a !== undefined && b !== undefined && a > b) [a, b] = [b, a]
      cases.push({ size: rng.chance(0.3) ? 100 : 10 + rng.int(91), a, b })
    }
    for (const [i, { size, a, b }] of cases.entries()) {
      const params: Array<[string, string]> = []
      let from: number | undefined, to: number | undefined
      if (source === 'events') {
        if (a !== undefined) { params.push(['started_at', isoUs(a)]); from = a / 1000 }
        const end = b ?? NOW * 1000
        params.push(['ended_at', isoUs(end)]); to = end / 1000
      } else {
        // mail/disk compare at ms precision: the bound's extra digits are cut
        if (a !== undefined) { params.push(['afterDate', isoUs(a).replace('+00:00', 'Z')]); from = Math.floor(a / 1000) }
        if (b !== undefined) { params.push(['beforeDate', isoUs(b).replace('+00:00', 'Z')]); to = Math.floor(b / 1000) }
      }
      const got = await pageAll(emu, source, size, params)
      const want = emu.truth(source, { from, to })
      sameJson(t, got.records.reverse(), want, `${source} #${i} size=${size} ${JSON.stringify(params)} (${want.length} records)`)
      t.ok(got.pages.slice(0, -1).every((n) => n === size), 'full pages except the last')
    }
  }
})

t.test('arrivals while paging shift later pages: a record repeats across the boundary', async (t) => {
  const clock = fakeClock()
  const emu = await startEmulator({ clock: clock.now, counts: { mail: 300, events: 300 } })
  t.teardown(() => emu.close())
  const path = pathOf('mail', emu.org)
  const p1 = await get(emu, path, 'pageSize=100')
  const injected = emu.inject('mail', 5) as any[]
  t.equal(Date.parse(injected[0].date), NOW)
  const p2 = await get(emu, path, `pageSize=100&pageToken=${p1.json.nextPageToken}`)
  t.same(p2.json.events.slice(0, 5), p1.json.events.slice(95), 'the last 5 of page 1 come again at the top of page 2')
  // a restart from the top sees the new ones first
  const top = await get(emu, path, 'pageSize=5')
  t.same(top.json.events.map((e: any) => e.uniqId).sort(), injected.map((e) => e.uniqId).sort())

  // events with explicit ended_at: an arrival after ended_at does not shift, a late one inside the range does
  const ended = ['ended_at', iso(NOW - 1000)] as [string, string]
  const e1 = await get(emu, pathOf('events', emu.org), pageQuery('events', 50, undefined, [ended]))
  emu.inject('events', 3)
  const e2 = await get(emu, pathOf('events', emu.org), pageQuery('events', 50, e1.json.iteration_key, [ended]))
  t.not(e2.json.items[0].event.idempotency_id, e1.json.items[49].event.idempotency_id, 'no shift from records after ended_at')
  emu.inject('events', 1, { at: Date.parse(e1.json.items[0].event.occurred_at) + 0.001 })
  const e3 = await get(emu, pathOf('events', emu.org), pageQuery('events', 50, e2.json.iteration_key, [ended]))
  t.equal(e3.json.items[0].event.idempotency_id, e2.json.items[49].event.idempotency_id, 'a late arrival in range shifts by one')
})

t.test('insertPerPage switch: deterministic arrivals after each page', async (t) => {
  const emu = await startEmulator({ clock: fakeClock().now, counts: { disk: 250 }, switches: { insertPerPage: { source: 'disk', n: 4 } } })
  t.teardown(() => emu.close())
  const { records, pages } = await pageAll(emu, 'disk', 50, [])
  const ids = records.map((r) => idOf('disk', r))
  const unique = new Set(ids)
  t.ok(ids.length > unique.size, 'repeats across page boundaries')
  t.equal(ids.length - unique.size, 4 * (pages.length - 1), 'each page after the first repeats the 4 shifted records')
  const original = emu.truth('disk').map((r) => idOf('disk', r)).filter((id) => !unique.has(id))
  t.ok(original.length > 0, 'the records inserted after the last page were not seen')
  t.equal(emu.truth('disk').length, 250 + 4 * pages.length)
})

t.test('retention: older records invisible, older ranges empty (not errors); switchable per source', async (t) => {
  const clock = fakeClock()
  const emu = await startEmulator({ clock: clock.now, counts: { mail: 400, events: 400 }, days: 200 })
  t.teardown(() => emu.close())
  const { records } = await pageAll(emu, 'mail', 100, [])
  t.ok(records.length > 100 && records.length < 300, `about 90/200 visible (${records.length})`)
  t.ok(records.every((r) => Date.parse(r.date) >= NOW - 90 * DAY))
  sameJson(t, records.reverse(), emu.truth('mail'), 'the visible records are the truth')
  const old = await get(emu, pathOf('mail', emu.org), `afterDate=${iso(NOW - 150 * DAY)}&beforeDate=${iso(NOW - 100 * DAY)}`)
  t.equal(old.status, 200)
  t.equal(old.text, '{"events":[],"nextPageToken":""}')
  const ev = await pageAll(emu, 'events', 100, [['ended_at', iso(NOW)]])
  t.ok(ev.records.length > records.length, 'events keep 180 days')
  emu.setSwitches({ retentionDays: { mail: 10 } })
  const short = await pageAll(emu, 'mail', 100, [])
  t.ok(short.records.length < records.length / 5)
  t.same(emu.switches().retentionDays, { mail: 10, disk: 90, events: 180 })
  clock.advance(11 * DAY)
  t.same((await pageAll(emu, 'mail', 100, [])).records, [], 'the clock moves retention')
})

t.test('pageDepthCap: the token for page K+1 gets 400', async (t) => {
  const emu = await startEmulator({ clock: fakeClock().now, counts: { mail: 100, events: 100 }, switches: { pageDepthCap: 3 } })
  t.teardown(() => emu.close())
  let token = ''
  for (let i = 0; i < 3; i++) {
    const r = await get(emu, pathOf('mail', emu.org), `pageSize=10${token ? '&pageToken=' + token : ''}`)
    t.equal(r.status, 200, `page ${i + 1}`)
    token = r.json.nextPageToken
  }
  const r = await get(emu, pathOf('mail', emu.org), `pageSize=10&pageToken=${token}`)
  t.equal(r.status, 400)
  t.match(r.json.message, /too deep/)
  emu.setSwitches({ pageDepthCap: 0 })
  t.equal((await get(emu, pathOf('mail', emu.org), `pageSize=10&pageToken=${token}`)).status, 200, 'no cap: same token works')
})
