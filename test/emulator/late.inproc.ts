// The late-arrivals admin call: records inserted into the emulator's past (their own time hours or days ago), visible
// only from now on, per source, over HTTP and in-process, and held by the ground truth.
import t from 'tap'
import { request } from 'undici'
import { startEmulator, SOURCES } from '../../src/emulator/index.js'
import { NOW, fakeClock, pageAll } from './fixtures/helpers.js'

const HOUR = 3_600_000
const instantOf = (source: string, r: any): number => Date.parse(source === 'events' ? r.event.occurred_at : r.date)

t.test('POST /__admin/late inserts records into the past of each source; the API and the truth serve them', async (t) => {
  const emu = await startEmulator({ clock: fakeClock().now, counts: { mail: 50, disk: 50, events: 50 }, days: 3 })
  t.teardown(() => emu.close())
  for (const source of SOURCES) {
    const bounds: Array<[string, string]> = source === 'events' ? [['ended_at', new Date(NOW).toISOString()]] : []
    const before = await pageAll(emu, source, 100, bounds)
    const from = NOW - 30 * HOUR
    const to = NOW - 26 * HOUR
    const res = await request(`${emu.url}/__admin/late`, { method: 'POST', body: JSON.stringify({ source, n: 7, from: new Date(from).toISOString(), to }) })
    t.equal(res.statusCode, 200)
    const added = (await res.body.json()) as any[]
    t.equal(added.length, 7, `${source}: 7 records`)
    const stamps = added.map((r) => instantOf(source, r))
    t.ok(stamps.every((ms) => ms >= from && ms < to), `${source}: stamped inside [from, to)`)
    t.same(stamps, [...stamps].sort((a, b) => a - b), `${source}: returned ascending`)
    const after = await pageAll(emu, source, 100, bounds)
    t.equal(after.records.length, before.records.length + 7, `${source}: the API serves them now`)
    const truth = JSON.stringify(emu.truth(source))
    t.ok(added.every((r) => truth.includes(JSON.stringify(r))), `${source}: the ground truth holds them`)
  }
})

t.test('late() in-process, and what it refuses', async (t) => {
  const emu = await startEmulator({ clock: fakeClock().now, counts: { mail: 10 } })
  t.teardown(() => emu.close())
  const got = emu.late('mail', 3, { from: NOW - 2 * HOUR, to: NOW - HOUR })
  t.equal(emu.truth('mail', { from: NOW - 2 * HOUR, to: NOW - HOUR }).filter((r) => got.some((g) => JSON.stringify(g) === JSON.stringify(r))).length, 3)
  t.throws(() => emu.late('mail', 1, { from: NOW - HOUR, to: NOW + HOUR }), TypeError, 'not into the future')
  t.throws(() => emu.late('mail', 1, { from: NOW, to: NOW - HOUR }), TypeError, 'from before to')
  for (const body of ['{"source":"mail","n":1}', '{"source":"nope","n":1,"from":0,"to":1}', '{"source":"mail","n":1,"from":"yesterday","to":1}']) {
    const res = await request(`${emu.url}/__admin/late`, { method: 'POST', body })
    t.equal(res.statusCode, 400, body)
    t.match(await res.body.json(), { error: /late needs/ })
  }
})
