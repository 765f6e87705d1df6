// DayDiff: a day file compared with the API's records (ascending) by canonical identity, streaming: spacing and key
// order do not matter, a file stepping back within the tolerance still matches, lines outside the range are not
// compared, what the API did not return is unconfirmed or beyond its retention, a repeated line is one extra.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DayDiff } from '../../src/archive/diff.js'
import { canonicalKey } from '../../src/messages.js'
import { pythonDumps } from '../../src/pipeline/format.js'
import { ENDPOINTS } from '../../src/sources/index.js'

const T0 = Date.UTC(2026, 10, 20) * 1000 // µs
const rec = (s: number, id: string): { date: string; uniqId: string; eventType: string } => ({ date: new Date((T0 + s * 1e6) / 1000).toISOString(), uniqId: id, eventType: 'message_seen' })
const us = (r: { date: string }): number => ENDPOINTS.mail.timestamp(r) as number
const opts = { instantOf: ENDPOINTS.mail.timestamp, toleranceUs: 120e6, from: T0, to: T0 + 86_400e6, retainedFrom: T0 + 3600e6 }

t.test('missing, matched across spacing and key order and a step back, unconfirmed, beyond retention, out of range', async (t) => {
  const dir = t.testdir()
  const path = join(dir, 'mail_audit_2026-11-20.json')
  const early = rec(10, 'early') // before retainedFrom: beyond retention when the API lacks it
  const a = rec(4000, 'a')
  const b = rec(4100, 'b')
  const late = rec(4050, 'late') // written after b: a step back of 50 s (within the tolerance)
  const stray = rec(5000, 'stray') // in the file only
  const c = rec(6000, 'c')
  const outside = { ...rec(0, 'x'), date: new Date((T0 - 1e6) / 1000).toISOString() } // before the range
  const reversed = (r: object): object => Object.fromEntries(Object.entries(r).reverse())
  writeFileSync(path, [outside, early, a, b, late, stray, stray, c].map((r, i) => (i % 2 ? pythonDumps(reversed(r)) : JSON.stringify(r))).join('\n') + '\nnot json\n')
  const d = await DayDiff.open(path, opts)
  const api = [a, late, b, rec(5500, 'new'), c]
  const found = []
  for (const r of api) found.push(await d.has(us(r), canonicalKey(r)))
  t.same(found, [true, true, true, false, true])
  t.same(await d.finish(), { archived: 7, api: 5, missing: 1, unconfirmed: 2, beyondRetention: 1 }, 'stray twice: 2 unconfirmed; early: beyond retention; outside and "not json" not compared')
})

t.test('a missing day file holds nothing; a file with no API record is all unconfirmed', async (t) => {
  const dir = t.testdir()
  const none = await DayDiff.open(join(dir, 'absent.json'), opts)
  t.equal(await none.has(T0 + 5e6, 'k'), false)
  t.same(await none.finish(), { archived: 0, api: 1, missing: 1, unconfirmed: 0, beyondRetention: 0 })
  const path = join(dir, 'day.json')
  writeFileSync(path, Array.from({ length: 5000 }, (_, i) => JSON.stringify(rec(3600 + i, `r${i}`))).join('\n') + '\n')
  const d = await DayDiff.open(path, opts)
  t.same(await d.finish(), { archived: 5000, api: 0, missing: 0, unconfirmed: 5000, beyondRetention: 0 })
})
