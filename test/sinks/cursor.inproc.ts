// src/sinks/cursor.ts: the state file round-trips exactly (0600, sorted sources, readable JSON); a missing file is an
// empty cursor, every kind of damage is CONFIG_INVALID naming the file; DeliveryTracker keeps the newest instant and
// only the keys within the overlap of it.
import t from 'tap'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { canonicalKey, recordText, textRecord, type AuditRecord } from '../../src/messages.js'
import { DeliveryTracker, loadCursor, saveCursor, type Cursor } from '../../src/sinks/cursor.js'

const S = 1_000_000 // µs
const at = Date.UTC(2026, 9, 20, 10, 0, 0)
const rec = (us: number, id: string): AuditRecord => textRecord(us, JSON.stringify({ id, us }))
const key = (r: AuditRecord): string => canonicalKey(JSON.parse(recordText(r)))

t.test('save then load gives the same cursor; the file is 0600 JSON with sources sorted', async (t) => {
  const dir = t.testdir()
  const path = join(dir, 'state.json')
  const cursor: Cursor = new Map([
    ['mail', { resumeUs: at * 1000 + 5, keys: new Map([['k1', at * 1000], ['k2', at * 1000 + 5]]) }],
    ['disk', { resumeUs: at * 1000, keys: new Map() }],
  ])
  await saveCursor(path, cursor, at)
  t.equal(statSync(path).mode & 0o777, 0o600)
  t.same(JSON.parse(readFileSync(path, 'utf8')), {
    version: 1,
    updated: '2026-10-20T10:00:00.000Z',
    sources: {
      disk: { resume: '2026-10-20T10:00:00.000Z', resumeUs: at * 1000, keys: [] },
      mail: { resume: '2026-10-20T10:00:00.000005+00:00', resumeUs: at * 1000 + 5, keys: [['k1', at * 1000], ['k2', at * 1000 + 5]] },
    },
  })
  t.same(Object.keys(JSON.parse(readFileSync(path, 'utf8')).sources), ['disk', 'mail'])
  t.same(await loadCursor(path), cursor)
  t.same(await loadCursor(join(dir, 'missing.json')), new Map(), 'no file yet: nothing delivered')
})

t.test('a damaged state file is CONFIG_INVALID with the reason, never an empty cursor', async (t) => {
  const cases: [string, string][] = [
    ['{"version": 1, "sources": ', 'not JSON'],
    ['{"version": 2, "sources": {}}', 'unknown version'],
    ['{"version": 1}', 'unknown version'],
    ['null', 'unknown version'],
    ['{"version": 1, "sources": {"mail": {"resumeUs": 1.5, "keys": []}}}', 'bad entry for mail'],
    ['{"version": 1, "sources": {"mail": {"resumeUs": 1, "keys": {}}}}', 'bad entry for mail'],
    ['{"version": 1, "sources": {"mail": {"resumeUs": 1, "keys": [["k", "x"]]}}}', 'bad key in mail'],
    ['{"version": 1, "sources": {"mail": {"resumeUs": 1, "keys": [[3, 1]]}}}', 'bad key in mail'],
  ]
  const dir = t.testdir(Object.fromEntries(cases.map(([text], i) => [`s${i}.json`, text])))
  for (const [i, [text, why]] of cases.entries()) {
    const path = join(dir, `s${i}.json`)
    await t.rejects(loadCursor(path), { code: 'CONFIG_INVALID', message: `the state file ${path} is not a y360-audit cursor (${why}); fix it or move it away to start over (the next run then delivers from --since or --lookback again)` }, text)
  }
  await t.rejects(loadCursor(dir), { code: 'CONFIG_INVALID', message: /is not a y360-audit cursor \(EISDIR/ }, 'unreadable')
})

t.test('DeliveryTracker: newest instant, keys within the overlap only, count of this run', async (t) => {
  const fresh = new DeliveryTracker(undefined, 60 * S)
  t.equal(fresh.snapshot(), undefined, 'nothing delivered: nothing to store')
  const a = rec(100 * S, 'a')
  const b = rec(150 * S, 'b')
  const c = rec(200 * S, 'c')
  fresh.delivered([a, b])
  t.same(fresh.snapshot(), { resumeUs: 150 * S, keys: new Map([[key(a), 100 * S], [key(b), 150 * S]]) })
  fresh.delivered([c])
  t.same(fresh.snapshot(), { resumeUs: 200 * S, keys: new Map([[key(b), 150 * S], [key(c), 200 * S]]) }, 'a fell out of the overlap [140 s, 200 s]')
  t.equal(fresh.count, 3)

  const start = { resumeUs: 200 * S, keys: new Map([['old', 190 * S]]) }
  const resumed = new DeliveryTracker(start, 60 * S)
  const late = rec(170 * S, 'late')
  resumed.delivered([late])
  t.same(resumed.snapshot(), { resumeUs: 200 * S, keys: new Map([['old', 190 * S], [key(late), 170 * S]]) }, 'an older record does not move the resume point back')
  t.equal(resumed.count, 1)
  t.same(start.keys, new Map([['old', 190 * S]]), 'the loaded cursor is not changed in place')
})
