// The three endpoints over real HTTP: body shapes, key order, newest-first order, end markers, X-Request-Id, admin truth.
import t from 'tap'
import { request } from 'undici'
import { DISK_TYPES, EVENT_TYPES, MAIL_TYPES, startEmulator } from '../../src/emulator/index.js'
import { NOW, fakeClock, get, iso, pageAll, pathOf, sameJson } from './fixtures/helpers.js'

const MAIL_KEYS = ['eventType', 'date', 'orgId', 'userUid', 'userLogin', 'userName', 'requestId', 'uniqId', 'source', 'mid', 'folderName', 'folderType', 'labels', 'msgId', 'subject', 'from', 'to', 'cc', 'bcc', 'clientIp']
const DISK_KEYS = ['eventType', 'date', 'orgId', 'userUid', 'userLogin', 'userName', 'ownerUid', 'ownerLogin', 'ownerName', 'resourceFileId', 'path', 'size', 'lastModificationDate', 'rights', 'requestId', 'uniqId', 'clientIp']

t.test('endpoints', async (t) => {
  const clock = fakeClock()
  const emu = await startEmulator({ clock: clock.now, counts: { mail: 600, disk: 600, events: 600 }, org: 4815162 })
  t.teardown(() => emu.close())

  t.test('mail page: shape, key order, newest first, types from the catalog', async (t) => {
    const r = await get(emu, pathOf('mail', emu.org), 'pageSize=100')
    t.equal(r.status, 200)
    t.match(r.headers['content-type'], /application\/json/)
    t.ok(r.headers['x-request-id'])
    t.same(Object.keys(r.json), ['events', 'nextPageToken'])
    t.equal(r.json.events.length, 100)
    t.type(r.json.nextPageToken, 'string')
    t.not(r.json.nextPageToken, '')
    for (const e of r.json.events) {
      const keys = Object.keys(e)
      t.same(keys.slice(0, MAIL_KEYS.length), MAIL_KEYS)
      const extra = keys.slice(MAIL_KEYS.length)
      t.ok(extra.every((k) => k === 'destMid' || k === 'actorUid'), 'only destMid/actorUid optional, at the end')
      if (extra.length === 2) t.same(extra, ['destMid', 'actorUid'])
      t.equal(e.orgId, 4815162)
      t.ok(MAIL_TYPES.includes(e.eventType))
      t.match(e.date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$/)
      t.type(e.uniqId, 'string')
    }
    const times = r.json.events.map((e: any) => Date.parse(e.date))
    t.same(times, [...times].sort((a, b) => b - a), 'newest first')
    t.ok(times[0] <= NOW)
  })

  t.test('disk page: shape and second-precision dates', async (t) => {
    const r = await get(emu, pathOf('disk', emu.org), 'pageSize=50')
    t.equal(r.status, 200)
    for (const e of r.json.events) {
      t.same(Object.keys(e), DISK_KEYS)
      t.ok(DISK_TYPES.includes(e.eventType))
      t.match(e.date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
      t.type(e.size, 'string')
    }
  })

  t.test('events page: alphabetical keys at both levels, µs +00:00', async (t) => {
    const r = await get(emu, pathOf('events', emu.org), `count=100&ended_at=${encodeURIComponent(iso(NOW))}`)
    t.equal(r.status, 200)
    t.same(Object.keys(r.json), ['items', 'iteration_key'])
    t.type(r.json.iteration_key, 'string')
    for (const it of r.json.items) {
      t.same(Object.keys(it), ['event', 'user_login', 'user_name'])
      const keys = Object.keys(it.event)
      t.same(keys, [...keys].sort())
      t.same(Object.keys(it.event.meta), Object.keys(it.event.meta).sort())
      t.ok(EVENT_TYPES.includes(it.event.type))
      t.match(it.event.occurred_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$/)
      t.equal(it.event.org_id, 4815162)
      t.ok(it.event.status === 'Success' || it.event.status === 'Error')
      if (it.event.uid === undefined) t.equal(it.event.is_system, true)
      else t.type(it.event.uid, 'number')
    }
  })

  t.test('paging to the end: "" for mail/disk, null for events; union equals truth', async (t) => {
    for (const source of ['mail', 'disk'] as const) {
      const { records } = await pageAll(emu, source, 100, [])
      sameJson(t, records.reverse(), emu.truth(source), `${source} all pages = truth`)
    }
    const { records } = await pageAll(emu, 'events', 100, [['ended_at', iso(NOW)]])
    sameJson(t, records.reverse(), emu.truth('events'), 'events up to ended_at = truth')
    const last = await get(emu, pathOf('mail', emu.org), `pageSize=100&afterDate=${iso(NOW - 1000)}`)
    t.same(last.json.nextPageToken, '')
  })

  t.test('empty result shapes', async (t) => {
    const m = await get(emu, pathOf('mail', emu.org), 'afterDate=2000-01-01T00:00:00Z&beforeDate=2000-01-02T00:00:00Z')
    t.equal(m.text, '{"events":[],"nextPageToken":""}')
    const e = await get(emu, pathOf('events', emu.org), 'count=10&ended_at=2000-01-01T00:00:00%2B00:00')
    t.equal(e.text, '{"items":[],"iteration_key":null}')
  })

  t.test('default beforeDate is the emulator clock: future records stay hidden until the clock passes them', async (t) => {
    emu.inject('mail', 1, { at: NOW + 60_000 })
    const before = await get(emu, pathOf('mail', emu.org), 'pageSize=1')
    t.not(Date.parse(before.json.events[0].date), NOW + 60_000)
    clock.advance(60_000)
    const after = await get(emu, pathOf('mail', emu.org), 'pageSize=1')
    t.equal(after.json.events[0].date, '2025-06-15T12:01:00Z', 'zero ms omitted by default')
    clock.set(NOW)
  })

  t.test('admin truth NDJSON equals truth()', async (t) => {
    const res = await request(`${emu.url}/__admin/truth?source=disk&from=${iso(NOW - 86_400_000)}&to=${NOW}`)
    t.equal(res.statusCode, 200, 'status')
    t.ok(res.headers['x-request-id'], 'request id')
    const lines = (await res.body.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l))
    sameJson(t, lines, emu.truth('disk', { from: NOW - 86_400_000, to: NOW }), 'same as truth()')
    t.ok(lines.length > 0, 'not empty')
  })

  t.test('a trailing slash and HEAD-less GET both route', async (t) => {
    const r = await get(emu, pathOf('disk', emu.org) + '/', 'pageSize=1')
    t.equal(r.status, 200)
  })
})
