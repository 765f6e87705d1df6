// The window collector, pure: pages in (as the API sent them, widened one unit each side), the records of [lo, hi)
// out, each once, ascending by (instant, canonical key); non-objects and records without a timestamp rejected with
// their reason; records of neighbouring windows dropped uncounted; repeats (by line, then canonically) counted.
import t from 'tap'
import { recordKey, recordText, textRecord, type AuditRecord } from '../../src/messages.js'
import { MAX_RECORD_CHARS, WindowCollector, ordered, requestBounds } from '../../src/sources/collect.js'
import { parsedRecords, walkedRecords, type PageRecords } from '../../src/sources/descriptor.js'
import type { Texts } from '../../src/sources/spans.js'
import { walkPage } from '../../src/sources/walk.js'

const instantOf = (r: Record<string, unknown>): number | undefined => (typeof r.t === 'number' ? r.t : undefined)
/** Records given parsed (no texts: each one re-encoded), their instant in `t`. */
const list = (items: unknown[]): PageRecords => parsedRecords(items, instantOf)
const id = (r: AuditRecord): [number, string] => [r.us, (JSON.parse(recordText(r)) as { id: string }).id]

t.test('requestBounds: one unit wider on each side, in whole units', async (t) => {
  t.same(requestBounds(1500, 2500, 1000), { after: 0, before: 3000 }, 'ms units, bounds inside a unit')
  t.same(requestBounds(2000, 3000, 1000), { after: 1000, before: 3000 }, 'ms units, bounds on units')
  t.same(requestBounds(10, 20, 1), { after: 9, before: 20 }, 'µs units')
  const both = { afterInclusive: true, beforeInclusive: true }
  t.same(requestBounds(1500, 2500, 1000, both), { after: 2000, before: 2000 }, 'bounds seen inclusive: asked exactly (ms)')
  t.same(requestBounds(2000, 3000, 1000, both), { after: 2000, before: 2000 }, 'bounds seen inclusive: on units')
  t.same(requestBounds(10, 20, 1, { afterInclusive: false, beforeInclusive: true }), { after: 9, before: 19 }, 'only the bound seen inclusive is narrowed')
})

t.test('collector: filter to [lo, hi), reject with reasons, dedupe, order', async (t) => {
  const c = new WindowCollector(100, 200)
  t.equal(c.oldest, undefined, 'nothing seen yet')
  c.add(list([
    { t: 150, id: 'b' },
    { t: 200, id: 'newer window' }, // hi is exclusive
    null,
    { id: 'no time' },
    { t: 120, id: 'c' },
  ]))
  c.add(list([
    { t: 150, id: 'b' }, // the same text again (an offset shift)
    [1, 2],
    { id: 'a', t: 150 }, // another record at 150
    { t: 150, id: 'a' }, // the same one, keys in another order
    'text',
    { t: 99, id: 'older window' },
    { t: 100, id: 'd' }, // lo is inclusive
  ]))
  t.equal(c.oldest, 100)
  t.equal(c.size, 5, 'distinct lines inside the window')
  const { records, rejected, repeats } = c.finish()
  // At one instant the order is by canonical key (a hash): computed here rather than assumed.
  const at150 = records.slice(2).map(id)
  t.same(records.slice(0, 2).map(id), [[100, 'd'], [120, 'c']])
  t.same(at150.map(([, i]) => i).sort(), ['a', 'b'])
  t.ok(recordKey(records[2]) < recordKey(records[3]), 'ties by canonical key')
  t.equal(repeats, 2, 'one by line, one canonically')
  t.same(rejected, [
    { reason: 'not a JSON object', record: null },
    { reason: 'no valid timestamp', record: { id: 'no time' } },
    { reason: 'not a JSON object', record: [1, 2] },
    { reason: 'not a JSON object', record: 'text' },
  ])
  const a = records.find((r) => id(r)[1] === 'a')
  t.equal(a === undefined ? undefined : recordText(a), '{"id":"a","t":150}', 'the first text seen of a record is kept')
})

t.test('collector: an empty window, and a window of out-of-bounds records only', async (t) => {
  const none = { records: [], rejected: [], repeats: 0, filtered: 0, neighbours: 0, refetched: 0, anomalies: new Map() }
  t.same(new WindowCollector(0, 10).finish(), none)
  const c = new WindowCollector(0, 10)
  c.add(list([{ t: -1 }, { t: 10 }, { t: 11 }]))
  t.same([c.finish(), c.oldest], [{ ...none, neighbours: 3 }, undefined], 'the neighbours counted')
})

t.test('collector: the part a cut pass keeps; all it received of the rest is counted refetched', async (t) => {
  const c = new WindowCollector(0, 10, { mismatch: (r) => (r.x === 'no' ? 'types' : undefined) })
  c.add(list([{ t: 9 }, { t: 8 }, { t: 8, x: 'no' }, { t: 5 }, { t: 5 }, { t: 4 }, { t: 4, x: 'no' }, { t: 10 }, 'junk']))
  const got = c.finish({ from: 5 })
  t.same(got.records.map((r) => r.us), [5, 8, 9], 'kept: instants ≥ 5')
  t.same({ ...got, records: undefined, rejected: got.rejected.length, anomalies: Object.fromEntries(got.anomalies) }, { records: undefined, rejected: 1, repeats: 1, filtered: 1, neighbours: 1, refetched: 2, anomalies: { 'filter-ignored:types': 1, reencoded: 4 } }, 'one repeat and one filtered kept side; the record and the filtered one at 4 refetched; junk (no instant) stays with the part kept')
})

t.test('ordered: by instant, then canonical key; the same content twice at an instant is one record, in any key order', async (t) => {
  const line = (o: object): string => JSON.stringify(o)
  const list: AuditRecord[] = [
    textRecord(30, line({ date: '30', uniqId: 'c' })),
    textRecord(10, line({ date: '10', uniqId: 'b' })),
    textRecord(10, line({ uniqId: 'a', date: '10' })),
    textRecord(10, line({ date: '10', uniqId: 'a' })), // the same record as the one before, keys in another order
    textRecord(20, line({ date: '20', uniqId: 'd' })),
  ]
  const { records, repeats } = ordered(list)
  t.equal(repeats, 1)
  t.same(records.map((r) => [r.us, (JSON.parse(recordText(r)) as { uniqId: string }).uniqId]), [[10, 'a'], [10, 'b'], [20, 'd'], [30, 'c']])
  const tied = records.filter((r) => r.us === 10)
  t.ok(recordKey(tied[0]) < recordKey(tied[1]), 'ties ordered by canonical key')
  t.same(records.filter((r) => r.us !== 10).map((r) => r.key), [undefined, undefined], 'a record alone at its instant is never keyed')
})

/** The records of a body as bytes (its spans found by the walk), their instant in `t`. */
function bytesOf(raw: Buffer): PageRecords & { texts: Texts } {
  const walked = walkPage(raw, 'events', [])
  if (walked === undefined) throw new Error('not a page')
  const items = (JSON.parse(raw.toString('utf8')) as { events: unknown[] }).events
  const texts = walkedRecords(raw, walked.records).texts
  if (texts === undefined) throw new Error('no texts')
  return { ...parsedRecords(items, instantOf, texts), texts }
}

/** A page as the client makes it, of the records' texts. */
const page = (records: string[]): PageRecords & { texts: Texts } => bytesOf(Buffer.from(`{"events":[${records.join(',')}]}`, 'utf8'))

t.test('collector on page bytes: each record is bytes of its page body, exactly as sent', async (t) => {
  const c = new WindowCollector(0, 100)
  const sent = ['{"t":3,  "id":"Ж"}', '{"t":2,"id":"😀","n":1.0}', '{"t":1,"id":"\\u0041"}']
  const p = page(sent)
  t.equal(c.add(p), 3)
  const { records, anomalies } = c.finish()
  t.same(records.map(recordText), [...sent].reverse(), 'spacing, 1.0 and escapes kept; ascending')
  t.ok(records.every((r) => r.buf === p.texts.body), 'no copy: the records point into the page body')
  t.same(Object.fromEntries(anomalies), {}, 'nothing re-encoded')
})

t.test('collector on page bytes: repeats found by (instant, exact bytes), whatever the number of records at an instant', async (t) => {
  const c = new WindowCollector(0, 100)
  const a = '{"t":5,"id":"a"}'
  const b = '{"t":5,"id":"b"}' // same instant and length as a: told apart by the bytes
  const p1 = page([a, b, '{"t":7,"id":"Ё"}'])
  const p2 = page(['{"t":7,"id":"Ё"}', a, '{"t":5,"id":"c"}', b, '{"t":5, "id":"a"}'])
  t.equal(c.add(p1), 3)
  t.equal(c.add(p2), 2, 'the repeats of the first page are no news; c and the respaced a are')
  t.equal(c.size, 5)
  const { records, repeats } = c.finish()
  t.equal(repeats, 4, 'three by their bytes, one canonically (a with other spacing)')
  t.same(records.map((r) => (JSON.parse(recordText(r)) as { id: string }).id).sort(), ['a', 'b', 'c', 'Ё'])
})

t.test('collector on page bytes: U+FFFD as bytes is counted (not escaped), line breaks re-encode, the length bound counts characters', async (t) => {
  const c = new WindowCollector(0, 100)
  const p = page(['{"t":1,"s":"a\uFFFDb"}', '{"t":2,"s":"\\ufffd"}', '{\n "t":3,\r\n "s":"x"\n}', '{"t":3,"s":"x"}', `{"t":4,"s":"${'Ж'.repeat(MAX_RECORD_CHARS - 20)}"}`])
  t.ok(p.texts.spans[4].end - p.texts.spans[4].start > MAX_RECORD_CHARS, 'the long record is over the bound in bytes')
  c.add(p)
  const { records, repeats, rejected, anomalies } = c.finish()
  t.same(Object.fromEntries(anomalies), { 'replacement-character': 1, reencoded: 1 }, 'only the raw U+FFFD; the pretty-printed record re-encoded')
  t.equal(repeats, 1, 'the compacted record and the same one sent compact are one')
  t.same(records.slice(0, 3).map(recordText), ['{"t":1,"s":"a\uFFFDb"}', '{"t":2,"s":"\\ufffd"}', '{"t":3,"s":"x"}'])
  t.equal(recordText(records[3]).length, MAX_RECORD_CHARS - 20 + 14, 'under the bound in characters: kept')
  t.same(rejected, [])
})

t.test('collector on page bytes: a body that was not UTF-8 is the text it decoded to, U+FFFD counted per record', async (t) => {
  const raw = Buffer.concat([Buffer.from('{"events":[{"t":1,"s":"a'), Buffer.from([0xff]), Buffer.from('b"},{"t":2}]}')])
  const text = raw.toString('utf8')
  const body = Buffer.from(text, 'utf8') // what the client hands the descriptor for such a body
  const c = new WindowCollector(0, 100)
  c.add(bytesOf(body))
  const { records, anomalies } = c.finish()
  t.same(records.map(recordText), ['{"t":1,"s":"a\uFFFDb"}', '{"t":2}'])
  t.same(Object.fromEntries(anomalies), { 'replacement-character': 1 })
})
