// Dedupe: drops records already archived or already passed; keeps keys only for the trailing overlap (bounded memory).
import t from 'tap'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { Dedupe } from '../../src/pipeline/dedupe.js'
import { canonicalKey, type AuditRecord } from '../../src/sources/descriptor.js'
import type { WindowBatch } from '../../src/sources/windowed.js'

const rec = (us: number, id: string): AuditRecord => {
  const data = { date: String(us), uniqId: id }
  return { us, key: canonicalKey(data), line: JSON.stringify(data) }
}
const id = (r: AuditRecord): string => (JSON.parse(r.line) as { uniqId: string }).uniqId
const batch = (records: AuditRecord[]): WindowBatch => ({ lo: 0, hi: 0, records, rejected: [], pages: 1, received: records.length, repeats: 0 })

async function through(d: Dedupe, batches: WindowBatch[]): Promise<string[][]> {
  const out: string[][] = []
  await pipeline(Readable.from(batches, { objectMode: true }), d, new Writable({ objectMode: true, write(b: WindowBatch, _e, cb) { out.push(b.records.map(id)); cb() } }))
  return out
}

t.test('seeded keys are dropped, other records pass, late arrivals are counted', async (t) => {
  const seedRec = rec(1000, 'a')
  const d = new Dedupe({ seed: new Map([[seedRec.key, 1000]]), overlapUs: 500, resume: 1000 })
  const out = await through(d, [batch([rec(900, 'late'), rec(1000, 'a'), rec(1000, 'b'), rec(1200, 'c')])])
  t.same(out, [['late', 'b', 'c']])
  t.equal(d.dropped, 1)
  t.equal(d.late, 1, 'the record older than the resume point is a late arrival')
})

t.test('a key seen in one batch is dropped in the next; content identity ignores key order and spacing', async (t) => {
  const d = new Dedupe({ seed: new Map(), overlapUs: 1000, resume: undefined })
  const reordered = { us: 10, key: canonicalKey(JSON.parse('{"uniqId": "x", "date": "10"}')), line: '{"uniqId": "x", "date": "10"}' }
  const out = await through(d, [batch([rec(10, 'x')]), batch([reordered, rec(11, 'y')])])
  t.same(out, [['x'], ['y']])
  t.equal(d.dropped, 1)
  t.equal(d.late, 0)
})

t.test('keys older than newest − overlap are evicted (memory bounded by the overlap)', async (t) => {
  const d = new Dedupe({ seed: new Map([[rec(0, 's').key, 0]]), overlapUs: 100, resume: 0 })
  const many = Array.from({ length: 1000 }, (_, i) => rec(i * 10, `r${i}`))
  const out = await through(d, [batch(many.slice(0, 500)), batch(many.slice(500))])
  t.equal(out.flat().length, 1000)
  // newest is 9990; keys at >= 9890 stay: 9890..9990 step 10 = 11 keys
  t.equal(d.size, 11)
  // an evicted key is not recognised any more: that is the bound's price, and why the overlap must cover late arrivals
  const d2 = new Dedupe({ seed: new Map(), overlapUs: 100, resume: undefined })
  const again = await through(d2, [batch([rec(0, 'old'), rec(500, 'new')]), batch([rec(0, 'old')])])
  t.same(again, [['old', 'new'], ['old']])
})
