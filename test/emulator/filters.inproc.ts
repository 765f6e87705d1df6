// Each filter's effect against truth(): types (repeated key on api360, comma-joined on cloud-api), include/exclude uids, ip, service.
import t from 'tap'
import { startEmulator } from '../../src/emulator/index.js'
import { NOW, fakeClock, iso, pageAll, sameJson } from './fixtures/helpers.js'

t.test('filters', async (t) => {
  const emu = await startEmulator({ clock: fakeClock().now, counts: { mail: 800, disk: 400, events: 800 } })
  t.teardown(() => emu.close())
  const mail = emu.truth('mail') as any[]
  const events = emu.truth('events') as any[]
  const uids = [...new Set(mail.map((r) => r.userUid))].slice(0, 3)
  const ended: [string, string] = ['ended_at', iso(NOW)]

  t.test('mail types, repeated key', async (t) => {
    const { records } = await pageAll(emu, 'mail', 100, [['types', 'message_seen'], ['types', 'mailbox_send']])
    const want = emu.truth('mail', { types: ['message_seen', 'mailbox_send'] })
    t.ok(want.length > 20)
    sameJson(t, records.reverse(), want, 'only the two types, all of them')
    t.ok(records.every((r) => r.eventType === 'message_seen' || r.eventType === 'mailbox_send'))
  })

  t.test('mail types comma-joined is one unknown type (pitfall: nothing matches)', async (t) => {
    const { records } = await pageAll(emu, 'mail', 100, [['types', 'message_seen,mailbox_send']])
    t.same(records, [])
  })

  t.test('disk ignores types (mail only)', async (t) => {
    const { records } = await pageAll(emu, 'disk', 100, [['types', 'fs-rm']])
    t.equal(records.length, 400)
  })

  t.test('includeUids / excludeUids (repeated keys)', async (t) => {
    for (const source of ['mail', 'disk'] as const) {
      const inc = await pageAll(emu, source, 37, uids.map((u) => ['includeUids', u]))
      const want = emu.truth(source, { includeUids: uids })
      t.ok(want.length > 0)
      sameJson(t, inc.records.reverse(), want, `${source} include`)
      const exc = await pageAll(emu, source, 37, uids.map((u) => ['excludeUids', u]))
      sameJson(t, exc.records.reverse(), emu.truth(source, { excludeUids: uids }), `${source} exclude`)
      t.equal(want.length + exc.records.length, emu.truth(source).length)
    }
  })

  t.test('events: comma-separated types, include_uids, exclude_uids, ip, service', async (t) => {
    const types = ['disk_fs-view', 'id_cookie.set', 'messenger_chat.created']
    const ty = await pageAll(emu, 'events', 50, [ended, ['types', types.join(',')]])
    const want = emu.truth('events', { types })
    t.ok(want.length > 20)
    sameJson(t, ty.records.reverse(), want, 'types')
    const evUids = [...new Set(events.filter((e) => e.event.uid).map((e) => String(e.event.uid)))].slice(0, 2)
    const inc = await pageAll(emu, 'events', 50, [ended, ['include_uids', evUids.join(',')]])
    sameJson(t, inc.records.reverse(), emu.truth('events', { includeUids: evUids }), 'include_uids')
    t.ok(inc.records.length > 0)
    const exc = await pageAll(emu, 'events', 50, [ended, ['exclude_uids', evUids.join(',')]])
    sameJson(t, exc.records.reverse(), emu.truth('events', { excludeUids: evUids }), 'exclude_uids keeps system events without uid')
    t.ok(exc.records.some((r) => r.event.uid === undefined))
    const ip = events[10].event.ip
    const byIp = await pageAll(emu, 'events', 50, [ended, ['ip', ip]])
    sameJson(t, byIp.records.reverse(), emu.truth('events', { ip }), 'ip')
    t.ok(byIp.records.length > 0 && byIp.records.every((r) => r.event.ip === ip))
    const sv = await pageAll(emu, 'events', 50, [ended, ['service', 'ID']])
    sameJson(t, sv.records.reverse(), emu.truth('events', { service: 'ID' }), 'service')
    t.ok(sv.records.length > 0 && sv.records.every((r) => r.event.service === 'ID'))
    const combo = await pageAll(emu, 'events', 7, [ended, ['service', 'Web'], ['types', 'disk_fs-view,disk_fs-store']])
    sameJson(t, combo.records.reverse(), emu.truth('events', { service: 'Web', types: ['disk_fs-view', 'disk_fs-store'] }), 'combined')
  })

  t.test('events: a repeated list key counts only its last value', async (t) => {
    const { records } = await pageAll(emu, 'events', 100, [ended, ['types', 'id_cookie.set'], ['types', 'messenger_chat.created']])
    sameJson(t, records.reverse(), emu.truth('events', { types: ['messenger_chat.created'] }), 'only the last value counts')
  })

  t.test('unknown filter values match nothing', async (t) => {
    t.same((await pageAll(emu, 'events', 100, [ended, ['ip', '10.9.9.9']])).records, [])
    t.same((await pageAll(emu, 'mail', 100, [['includeUids', '42']])).records, [])
  })
})
