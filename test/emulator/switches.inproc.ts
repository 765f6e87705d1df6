// Every [assumed] behaviour switch: bound inclusiveness, default/lenient page size, end marker, trailing page, fraction forms, admin updates.
import t from 'tap'
import { request } from 'undici'
import { DEFAULT_SWITCHES, startEmulator } from '../../src/emulator/index.js'
import { NOW, fakeClock, get, iso, pageAll, pageQuery, pathOf } from './fixtures/helpers.js'

t.test('switches', async (t) => {
  const emu = await startEmulator({ clock: fakeClock().now, counts: { mail: 300, disk: 300, events: 300 } })
  t.teardown(() => emu.close())
  const mailPath = pathOf('mail', emu.org)
  const evPath = pathOf('events', emu.org)
  const ended: [string, string] = ['ended_at', iso(NOW)]

  t.test('defaults are documented values', async (t) => {
    t.same(emu.switches(), DEFAULT_SWITCHES)
  })

  t.test('afterDate/beforeDate inclusive by default, exclusive when switched', async (t) => {
    const rec = (emu.truth('mail') as any[])[150]
    const at = Date.parse(rec.date)
    const q = `pageSize=100&afterDate=${iso(at)}&beforeDate=${iso(at)}`
    const inc = await get(emu, mailPath, q)
    t.ok(inc.json.events.some((e: any) => e.uniqId === rec.uniqId), 'both bounds inclusive')
    emu.setSwitches({ afterDateInclusive: false })
    t.same((await get(emu, mailPath, q)).json.events, [], 'afterDate exclusive')
    t.ok((await get(emu, mailPath, `pageSize=100&afterDate=${iso(at - 1)}&beforeDate=${iso(at)}`)).json.events.some((e: any) => e.uniqId === rec.uniqId))
    emu.setSwitches({ afterDateInclusive: true, beforeDateInclusive: false })
    t.same((await get(emu, mailPath, q)).json.events, [], 'beforeDate exclusive')
    emu.setSwitches({ beforeDateInclusive: true })
  })

  t.test('default page size when pageSize is absent', async (t) => {
    t.equal((await get(emu, mailPath, '')).json.events.length, 10)
    emu.setSwitches({ defaultPageSize: 25 })
    t.equal((await get(emu, mailPath, '')).json.events.length, 25)
    emu.setSwitches({ defaultPageSize: 10 })
  })

  t.test('lenient page size clamps instead of 400', async (t) => {
    emu.setSwitches({ pageSizeMode: 'lenient' })
    t.equal((await get(emu, mailPath, 'pageSize=500')).json.events.length, 100)
    t.equal((await get(emu, mailPath, 'pageSize=0')).json.events.length, 1)
    t.equal((await get(emu, mailPath, 'pageSize=abc')).json.events.length, 10)
    t.equal((await get(emu, evPath, `count=1000&ended_at=${iso(NOW)}`)).json.items.length, 100)
    t.equal((await get(emu, evPath, `ended_at=${iso(NOW)}`)).status, 400, 'count still required')
    emu.setSwitches({ pageSizeMode: 'strict' })
    t.equal((await get(emu, mailPath, 'pageSize=500')).status, 400)
  })

  t.test('events end marker: null or absent', async (t) => {
    const last = `count=100&ended_at=${iso(NOW)}&started_at=${iso(NOW - 60_000)}`
    t.match((await get(emu, evPath, last)).text, /"iteration_key":null}$/)
    emu.setSwitches({ eventsEndMarker: 'absent' })
    const r = await get(emu, evPath, last)
    t.notOk('iteration_key' in r.json)
    const all = await pageAll(emu, 'events', 100, [ended])
    t.equal(all.records.length, 300)
    emu.setSwitches({ eventsEndMarker: 'null' })
  })

  t.test('trailing empty page with a key after the last events page', async (t) => {
    emu.setSwitches({ trailingEmptyPageWithKey: true })
    const { records, pages } = await pageAll(emu, 'events', 100, [ended])
    t.same(pages, [100, 100, 100, 0], 'one empty page with a key, then the end')
    t.equal(records.length, 300)
    const keys = new Set<string>()
    let key: string | undefined
    do {
      const r = await get(emu, evPath, pageQuery('events', 100, key, [ended]))
      key = r.json.iteration_key ?? undefined
      if (key) { t.notOk(keys.has(key), 'keys never repeat'); keys.add(key) }
    } while (key)
    emu.setSwitches({ trailingEmptyPageWithKey: false })
    t.same((await pageAll(emu, 'events', 100, [ended])).pages, [100, 100, 100])
  })

  t.test('fraction forms: mail .000 and events .000000 kept or dropped', async (t) => {
    emu.inject('mail', 1, { at: NOW - 5000 })
    emu.inject('events', 1, { at: NOW - 5000 })
    const m = (): Promise<any> => get(emu, mailPath, `pageSize=1&beforeDate=${iso(NOW - 5000)}`)
    const e = (): Promise<any> => get(emu, evPath, `count=1&ended_at=${iso(NOW - 5000)}`)
    t.equal((await m()).json.events[0].date, '2025-06-15T11:59:55Z')
    t.equal((await e()).json.items[0].event.occurred_at, '2025-06-15T11:59:55+00:00')
    emu.setSwitches({ mailOmitZeroMs: false, eventsOmitZeroUs: false })
    t.equal((await m()).json.events[0].date, '2025-06-15T11:59:55.000Z')
    t.equal((await e()).json.items[0].event.occurred_at, '2025-06-15T11:59:55.000000+00:00')
    emu.setSwitches({ mailOmitZeroMs: true, eventsOmitZeroUs: true })
  })

  t.test('admin: POST /__admin/switches validates, GET shows them', async (t) => {
    const post = async (body: string): Promise<{ status: number; json: any }> => {
      const r = await request(`${emu.url}/__admin/switches`, { method: 'POST', body, headers: { 'content-type': 'application/json' } })
      return { status: r.statusCode, json: await r.body.json() }
    }
    const ok = await post('{"pageDepthCap":2,"scopeMissing":["disk"]}')
    t.equal(ok.status, 200)
    t.equal(ok.json.pageDepthCap, 2)
    t.equal((await get(emu, pathOf('disk', emu.org), '')).status, 403)
    const bad = await post('{"pageDepthCap":-1,"nope":true}')
    t.equal(bad.status, 400)
    t.match(bad.json.error, /nope/)
    t.match(bad.json.error, /pageDepthCap/)
    t.equal((await post('{not json')).status, 400)
    t.throws(() => emu.setSwitches({ eventsEndMarker: 'none' as 'null' }), TypeError)
    await post('{"pageDepthCap":0,"scopeMissing":[]}')
  })
  t.test('records served again after a format switch changed have the new format (texts are kept per set of formats)', async (t) => {
    const q = `count=100&ended_at=${iso(NOW)}`
    const before = (await get(emu, evPath, q)).text
    const again = (await get(emu, evPath, q)).text
    t.equal(again, before, 'the same page twice: the same bytes')
    emu.setSwitches({ eventsIpCidr: true })
    const cidr = (await get(emu, evPath, q)).json.items as { event: { ip?: string } }[]
    const ips = cidr.map((r) => r.event.ip).filter((ip) => ip !== undefined)
    t.ok(ips.length > 50 && ips.every((ip) => /\/(32|128)$/.test(ip)), `every ip of the page is a CIDR now (${ips.length})`)
    emu.setSwitches({ eventsIpCidr: false })
    t.equal((await get(emu, evPath, q)).text, before, 'switched back: the first bytes again')
  })
})
