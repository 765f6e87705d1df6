// The generated data: deterministic by seed, the hard cases present, identities unique, datasets loaded as-is, live arrivals.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { DISK_TYPES, MAIL_TYPES, startEmulator } from '../../src/emulator/index.js'
import { NOW, fakeClock, get, iso, pageAll, pathOf, sameJson } from './fixtures/helpers.js'

t.test('hard cases and identity', async (t) => {
  const emu = await startEmulator({ clock: fakeClock().now, counts: { mail: 1000, disk: 1000, events: 1000 } })
  t.teardown(() => emu.close())
  for (const source of ['mail', 'disk', 'events'] as const) {
    const all = emu.truth(source) as any[]
    const ts = all.map((r) => (source === 'events' ? r.event.occurred_at : r.date))
    const counts = new Map<string, number>()
    for (const s of ts) counts.set(s, (counts.get(s) ?? 0) + 1)
    t.ok(Math.max(...counts.values()) > 150, `${source}: a burst of >150 on one instant`)
    const ids = all.map((r) => (source === 'events' ? r.event.idempotency_id : r.uniqId))
    t.equal(new Set(ids).size, ids.length, `${source}: identities unique`)
    const strip = (r: any): string => JSON.stringify(source === 'events' ? { ...r, event: { ...r.event, idempotency_id: '' } } : { ...r, uniqId: '' })
    const bodies = all.map(strip)
    t.ok(bodies.length - new Set(bodies).size >= 1, `${source}: two records identical except their identity`)
    const edge = source === 'mail' ? [/T00:00:00Z$/, /T23:59:59\.999Z$/] : source === 'disk' ? [/T00:00:00Z$/, /T23:59:59Z$/] : [/T00:00:00\+00:00$/, /T23:59:59\.999999\+00:00$/]
    for (const re of edge) t.ok(ts.some((s) => re.test(s)), `${source}: a record at ${re}`)
    // guards a regression where a burst moved past the day edges swallowed the newest records
    t.ok(Date.parse(ts[ts.length - 1].replace('+00:00', 'Z')) > NOW - 3_600_000, `${source}: the newest record is recent`)
    t.ok(Date.parse(ts[0].replace('+00:00', 'Z')) < NOW - 6.9 * 86_400_000, `${source}: the oldest record is near the start`)
  }
  const mail = emu.truth('mail') as any[]
  t.same(new Set(mail.map((r) => r.eventType)), new Set(MAIL_TYPES), 'all 12 mail types')
  t.same(new Set((emu.truth('disk') as any[]).map((r) => r.eventType)), new Set(DISK_TYPES), 'all 14 disk types')
  const subjects = mail.map((r) => r.subject)
  t.ok(subjects.includes('../../etc/passwd'))
  t.ok(subjects.some((s) => s.includes('\u0001') && s.includes('\n') && s.includes('\t')))
  t.ok(subjects.some((s) => s.length > 200 && /\p{Extended_Pictographic}/u.test(s) && /[\u0590-\u06ff]/.test(s)))
  t.ok(mail.some((r) => /[А-я]/.test(r.userName)))
  const ips = (emu.truth('events') as any[]).map((r) => r.event.ip)
  t.ok(ips.some((ip) => ip.includes(':')) && ips.some((ip) => /^\d+\.\d+\.\d+\.\d+$/.test(ip)), 'IPv4 and IPv6')
  const us = (emu.truth('events') as any[]).map((r) => r.event.occurred_at as string)
  const micro = (s: string): number => Date.parse(s.slice(0, 19) + 'Z') * 1000 + Number((s.slice(20, 26) || '0').padEnd(6, '0'))
  t.ok(us.some((s, i) => i > 0 && micro(s) - micro(us[i - 1]) === 1), 'events exactly 1 µs apart')
  // the control-character subject survives the wire as data
  const r = await get(emu, pathOf('mail', emu.org), 'pageSize=100')
  t.ok(r.json, 'page with any subjects is valid JSON')
})

t.test('deterministic by seed', async (t) => {
  const a = await startEmulator({ clock: fakeClock().now, counts: { events: 200 }, seed: 5 })
  const b = await startEmulator({ clock: fakeClock().now, counts: { events: 200 }, seed: 5 })
  const c = await startEmulator({ clock: fakeClock().now, counts: { events: 200 }, seed: 6 })
  t.teardown(() => Promise.all([a.close(), b.close(), c.close()]))
  sameJson(t, a.truth('events'), b.truth('events'), 'the same seed gives the same records')
  // (not t.notSame: it formats both sides, 10 s for 200 records) Another seed gives other records, nearly all of them.
  const other = new Set(c.truth('events').map((r) => JSON.stringify(r)))
  const shared = a.truth('events').filter((r) => other.has(JSON.stringify(r))).length
  t.ok(c.truth('events').length === 200 && shared < 10, `another seed: ${shared} of 200 records in common`)
})

t.test('dataset loaded as-is from NDJSON', async (t) => {
  const dir = t.testdir()
  const recs = [
    { date: '2025-06-15T10:00:00.5Z', eventType: 'message_seen', userUid: '1', uniqId: 'a', extra: { keep: 'me' } },
    { uniqId: 'b', eventType: 'mailbox_send', userUid: '2', date: '2025-06-15T11:00:00Z' },
    { eventType: 'message_seen', date: '2025-06-15T09:00:00Z', userUid: '1', uniqId: 'c' },
  ]
  const file = join(dir, 'mail.ndjson')
  writeFileSync(file, recs.map((r) => JSON.stringify(r)).join('\n') + '\n')
  const emu = await startEmulator({ clock: fakeClock().now, datasets: { mail: file } })
  t.teardown(() => emu.close())
  const r = await get(emu, pathOf('mail', emu.org), 'pageSize=10')
  t.equal(r.text, `{"events":[${[recs[1], recs[0], recs[2]].map((x) => JSON.stringify(x)).join(',')}],"nextPageToken":""}`, 'served byte-for-byte, newest first')
  t.same((await pageAll(emu, 'mail', 1, [['includeUids', '1']])).records.map((x) => x.uniqId), ['a', 'c'])
  writeFileSync(join(dir, 'bad.ndjson'), '{"uniqId":"x"}\n')
  await t.rejects(startEmulator({ datasets: { mail: join(dir, 'bad.ndjson') } }), /bad\.ndjson:1/)
})

t.test('live mode adds records on a real timer; close() stops it', async (t) => {
  // the timer is real (for the CLI/demo); the clock is fake, so arrivals are driven by advancing it and waiting for a tick
  const clock = fakeClock()
  const emu = await startEmulator({ clock: clock.now, counts: { mail: 10 }, live: { ratePerSec: 100, sources: ['mail'], lateFraction: 0 } })
  t.teardown(() => emu.close())
  clock.advance(1000)
  const before = emu.truth('mail').length
  // wait for the next timer tick (event-driven polling, not a fixed sleep)
  while (emu.truth('mail').length === before) await new Promise((r) => setImmediate(r))
  t.equal(emu.truth('mail').length, before + 100)
  const newest = (await get(emu, pathOf('mail', emu.org), `pageSize=1&beforeDate=${iso(NOW + 1000)}`)).json.events[0]
  t.equal(Date.parse(newest.date), NOW + 1000)
})
