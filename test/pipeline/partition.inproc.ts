// PartitionByDate: each record goes to the segment of its own UTC day; segments keep the ascending order.
import t from 'tap'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { DateTime } from 'luxon'
import { dayBounds, dayNamer } from '../../src/archive/layout.js'
import { canonicalKey, recordText, textRecord, type AuditRecord, type SinkChunk, type WindowBatch } from '../../src/messages.js'
import { PartitionByDate } from '../../src/pipeline/partition.js'
import { LineEncoder, type Line } from '../../src/sinks/encode.js'

const encodeLines = (lines: Line[]): Buffer => new LineEncoder().encode(lines)
import { parseInstant } from '../../src/time.js'

const rec = (date: string, extra: Record<string, unknown> = {}): AuditRecord => {
  const data = { eventType: 'message_seen', date, ...extra }
  return { ...textRecord(parseInstant(date) as number, JSON.stringify(data)), key: canonicalKey(data) }
}

async function partition(records: AuditRecord[], lineFormat: 'compact' | 'seed' = 'compact', zone = 'UTC'): Promise<SinkChunk[]> {
  const out: SinkChunk[] = []
  const batch: WindowBatch = { lo: 0, hi: 1, records, rejected: [] }
  await pipeline(Readable.from([batch], { objectMode: true }), new PartitionByDate({ zone, lineFormat }), new Writable({ objectMode: true, write(c: SinkChunk, _e, cb) { out.push(c); cb() } }))
  return out
}

t.test('day boundaries: 23:59:59.999 stays in its day, 00:00:00.000 starts the next', async (t) => {
  const recs = [rec('2025-04-23T23:59:59.999Z'), rec('2025-04-24T00:00:00.000Z'), rec('2025-04-24T00:00:00.001Z'), rec('2025-04-24T23:59:59.999Z'), rec('2025-04-25T00:00:00Z')]
  const [chunk] = await partition(recs)
  t.same(chunk.segments.map((s) => [s.day, s.records.length]), [['2025-04-23', 1], ['2025-04-24', 3], ['2025-04-25', 1]])
  t.same(chunk.segments[1].records.map((r) => r.out ?? recordText(r)), recs.slice(1, 4).map(recordText), 'compact lines in the API key order, the record\'s own text')
  t.same(chunk.segments[1].records.map((r) => r.out), [undefined, undefined, undefined], 'no line of its own: the record\'s bytes are written')
  t.equal(encodeLines(chunk.segments[1].records).toString('utf8'), recs.slice(1, 4).map((r) => recordText(r) + '\n').join(''))
  t.equal(chunk.segments[1].first, recs[1].us)
  t.equal(chunk.segments[1].last, recs[3].us)
})

t.test('microsecond boundary of the events source', async (t) => {
  const a = { event: { occurred_at: '2025-09-04T23:59:59.999999+00:00' } }
  const b = { event: { occurred_at: '2025-09-05T00:00:00+00:00' } }
  const recs = [a, b].map((data) => ({ ...textRecord(parseInstant(data.event.occurred_at) as number, JSON.stringify(data)), key: canonicalKey(data) }))
  const [chunk] = await partition(recs)
  t.same(chunk.segments.map((s) => s.day), ['2025-09-04', '2025-09-05'])
})

t.test('seed format writes what Python json.dumps(ensure_ascii=False) wrote', async (t) => {
  const [chunk] = await partition([rec('2025-04-23T10:00:00.000Z', { userName: 'Петрова "О"', orgId: 5, labels: ['a', 'b'], x: {} , y: []})], 'seed')
  t.equal(encodeLines(chunk.segments[0].records).toString('utf8'), '{"eventType": "message_seen", "date": "2025-04-23T10:00:00.000Z", "userName": "Петрова \\"О\\"", "orgId": 5, "labels": ["a", "b"], "x": {}, "y": []}\n')
})

t.test('dayNamer in another zone (local day), and back in time across a day', async (t) => {
  const msk = dayNamer('Europe/Moscow')
  t.equal(msk(parseInstant('2025-04-23T20:59:59.999Z') as number), '2025-04-23')
  t.equal(msk(parseInstant('2025-04-23T21:00:00.000Z') as number), '2025-04-24')
  t.equal(msk(parseInstant('2025-04-22T12:00:00Z') as number), '2025-04-22', 'the cache does not stick to the previous day')
})

t.test('UTC days by arithmetic: the same names and bounds luxon gives, leap days, years before 1970, names that are no day', async (t) => {
  const ref = (ms: number): string => DateTime.fromMillis(ms, { zone: 'UTC' }).toISODate() as string
  const utc = dayNamer('UTC')
  const differ: number[] = []
  // Every 7 hours and 13 minutes over 1968-1972 and 2024-2026 (leap years, the epoch), forwards and back.
  for (const [from, to] of [[Date.UTC(1968, 0, 1), Date.UTC(1972, 11, 31)], [Date.UTC(2024, 0, 1), Date.UTC(2026, 11, 31)]]) {
    for (let ms = from; ms < to; ms += 26_000_000) if (utc(ms * 1000) !== ref(ms)) differ.push(ms)
    for (let ms = to; ms > from; ms -= 26_000_000) if (utc(ms * 1000) !== ref(ms)) differ.push(ms)
  }
  t.same(differ, [], 'every instant named as luxon names it')
  t.equal(utc(parseInstant('2024-02-29T23:59:59.999999Z') as number), '2024-02-29')
  t.equal(utc(parseInstant('2024-03-01T00:00:00Z') as number), '2024-03-01')
  for (const day of ['2024-02-29', '2025-02-28', '1969-12-31', '1970-01-01', '9999-12-31', '2025-02-29', '2025-02-30', '2026-13-01', '2026-00-10', '2026-1-01', 'x']) {
    const dt = DateTime.fromISO(day, { zone: 'UTC' }).startOf('day')
    t.same(dayBounds('UTC', day), { from: dt.toMillis() * 1000, to: dt.plus({ days: 1 }).toMillis() * 1000 }, `bounds of ${day}`)
  }
  t.same(dayBounds('UTC', '2024-02-29'), { from: Date.UTC(2024, 1, 29) * 1000, to: Date.UTC(2024, 2, 1) * 1000 })
})

/** The lines as records whose bytes are theirs (in one shared buffer, as a page's records are), and as strings to encode. */
function bothForms(lines: string[]): [string, Line[]][] {
  const body = Buffer.from(`[${lines.join('|')}]`, 'utf8')
  let start = 1
  const records = lines.map((l) => {
    const end = start + Buffer.byteLength(l)
    const r = { us: 0, buf: body, start, end }
    start = end + 1
    return r
  })
  return [['bytes', records], ['strings', lines.map((out) => ({ out }))], ['both', lines.map((l, i) => (i % 2 === 0 ? { out: l } : textRecord(0, l)))]]
}

t.test('encodeLines: UTF-8 of every line with its newline, whatever the script (growing past two bytes a character)', async (t) => {
  const cases: string[][] = [
    [],
    [''],
    ['ascii', '{"a":1}'],
    ['Петрова Ольга', 'Входящие «почта»'],
    ['漢字漢字漢字漢字', '😀😀😀', 'x'],
    ['a', '漢'.repeat(5000), 'b'], // one long 3-byte line after a short one: the buffer must grow mid-way
    ['漢'.repeat(30_000), 'Ж'.repeat(20_000)], // a string that outgrows its guess, then bytes past the first guess
  ]
  for (const lines of cases) {
    const expected = Buffer.from(lines.map((l) => l + '\n').join(''), 'utf8')
    for (const [form, input] of bothForms(lines)) {
      const got = encodeLines(input)
      t.equal(got.length, expected.length, `length of ${JSON.stringify(lines).slice(0, 40)} as ${form}`)
      t.ok(got.equals(expected), `bytes of ${JSON.stringify(lines).slice(0, 40)} as ${form}`)
    }
  }
})

t.test('LineEncoder: one buffer reused window after window, each result exact; grown for a burst, given back after it', async (t) => {
  const enc = new LineEncoder()
  const windows: string[][] = [['{"a":1}', 'Входящие'], ['漢'.repeat(40_000)], ['x'], ['😀'.repeat(30_000), 'y'], [], ['z'.repeat(100)]]
  const buffers = new Set<ArrayBufferLike>()
  for (const lines of windows) {
    const got = enc.encode(lines.map((out) => ({ out })))
    t.equal(got.toString('utf8'), lines.map((l) => l + '\n').join(''), `window ${JSON.stringify(lines).slice(0, 30)}`)
    buffers.add(got.buffer)
  }
  // 64 KiB to start; the 120 KB window outgrows it (the two-byte guess, then again mid-way: only the last is returned);
  // given back for 'x'; grown for the emoji; given back for the empty window, which 'z' then reuses.
  t.equal(buffers.size, 5, 'a new buffer only when the window needs more, or far less, than the one held')
  const a = enc.encode([{ out: 'abc' }])
  const b = enc.encode([textRecord(0, 'def')])
  t.equal(a.buffer, b.buffer, 'small windows share the buffer')
  t.equal(b.toString(), 'def\n')
  const big = enc.encode([textRecord(0, 'Ж'.repeat(100_000))])
  t.equal(big.length, 200_001, 'bytes are sized exactly: a window of 200 KB of records gets a buffer that holds it')
})
