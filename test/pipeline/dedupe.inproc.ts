// Dedupe: drops records already archived or already passed; keeps keys only for the trailing overlap (bounded memory).
import t from 'tap'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { Dedupe } from '../../src/pipeline/dedupe.js'
import { canonicalKey, recordText, SourceStats, textRecord, type AuditRecord, type WindowBatch } from '../../src/messages.js'

const rec = (us: number, id: string): AuditRecord => textRecord(us, JSON.stringify({ date: String(us), uniqId: id }))
const key = (r: AuditRecord): string => canonicalKey(JSON.parse(recordText(r)))
const id = (r: AuditRecord): string => (JSON.parse(recordText(r)) as { uniqId: string }).uniqId
/** A window covering its records (batches are disjoint and ascending, as WindowedSource makes them). */
const batch = (records: AuditRecord[], lo = records[0]?.us ?? 0, hi = (records.at(-1)?.us ?? 0) + 1): WindowBatch => ({ lo, hi, records, rejected: [] })

async function through(d: Dedupe, batches: WindowBatch[]): Promise<string[][]> {
  const out: string[][] = []
  await pipeline(Readable.from(batches, { objectMode: true }), d, new Writable({ objectMode: true, write(b: WindowBatch, _e, cb) { out.push(b.records.map(id)); cb() } }))
  return out
}

t.test('seeded keys are dropped, other records pass, late arrivals are counted', async (t) => {
  const seedRec = rec(1000, 'a')
  const stats = new SourceStats()
  const d = new Dedupe({ seed: new Map([[key(seedRec), 1000]]), overlapUs: 500, resume: 1000, stats })
  const input = [rec(900, 'late'), rec(1000, 'a'), rec(1000, 'b'), rec(1200, 'c')]
  const out = await through(d, [batch(input)])
  t.same(out, [['late', 'b', 'c']])
  t.equal(stats.duplicates, 1)
  t.equal(stats.late, 1, 'the record older than the resume point is a late arrival')
  t.same(input.map((r) => r.key !== undefined), [true, true, true, false], 'keys computed only up to the newest seed instant; a newer record cannot be a repeat')
})

t.test('the seed read in the background is awaited by the first batch; a seed key with a different key order is still a repeat', async (t) => {
  const reordered: AuditRecord = textRecord(10, '{"uniqId": "x", "date": "10"}')
  const stats = new SourceStats()
  const d = new Dedupe({ seed: Promise.resolve(new Map([[key(rec(10, 'x')), 10]])), overlapUs: 1000, resume: 10, stats })
  const out = await through(d, [batch([reordered, rec(11, 'y')]), batch([rec(20, 'z')])])
  t.same(out, [['y'], ['z']])
  t.equal(stats.duplicates, 1)
})

t.test('batches that overlap break the invariant the dedupe relies on: INTERNAL error, nothing passed twice', async (t) => {
  const d = new Dedupe({ seed: new Map(), overlapUs: 1000, resume: undefined, stats: new SourceStats() })
  const out: string[][] = []
  const err = await pipeline(Readable.from([batch([rec(10, 'x')], 0, 20), batch([rec(10, 'x')], 5, 30)], { objectMode: true }), d, new Writable({ objectMode: true, write(b: WindowBatch, _e, cb) { out.push(b.records.map(id)); cb() } })).then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'INTERNAL', message: /overlaps the previous one/ })
  t.same(out, [['x']])
})

t.test('keys older than newest − overlap are evicted (memory bounded by the overlap)', async (t) => {
  // a seed of 1000 keys at 0..9990 µs (step 10); the run then passes records from 9995 on
  const seedRecs = Array.from({ length: 1000 }, (_, i) => rec(i * 10, `s${i}`))
  const d = new Dedupe({ seed: new Map(seedRecs.map((r) => [key(r), r.us])), overlapUs: 100, resume: 9990, stats: new SourceStats() })
  const out = await through(d, [batch([rec(9995, 'a'), rec(10_000, 'b')]), batch([rec(10_050, 'c')])])
  t.same(out, [['a', 'b'], ['c']])
  // newest is 10050; seed keys at >= 9950 stay: 9950..9990 step 10 = 5 keys
  t.equal(d.size, 5)
})
