// The page walk: each element of a page's records array is found as the exact text the API sent, whatever it holds
// (brackets and quotes inside strings, escapes, nesting, Cyrillic, emoji, big numbers, duplicate keys, spacing), so the
// archive keeps the API's bytes (guards issue 12 point 5: records were parsed and re-encoded); each record's timestamp
// is read from the bytes as JSON.parse would read it; and the walk accepts exactly what JSON.parse accepts, or gives up
// (compared on hand-picked and on thousands of mutated bodies): what it accepts is written to the archive unparsed.
import t from 'tap'
import { isObject } from '../../src/messages.js'
import { oneLine, spanText } from '../../src/sources/spans.js'
import { walkPage, type WalkedRecord } from '../../src/sources/walk.js'
import { prng } from '../helpers.js'

/** The walked records of a body given as text, each with its text decoded from the bytes. */
function recordSpans(body: string, key: string, path: string[] = []): (WalkedRecord & { text: string })[] | undefined {
  const buf = Buffer.from(body, 'utf8')
  return walkPage(buf, key, path)?.records.map((s) => ({ ...s, text: spanText(buf, s) }))
}
const spansOf = (buf: Buffer, key: string): WalkedRecord[] | undefined => walkPage(buf, key, [])?.records

const hard = [
  '{"id":12345678901234567890,"f":1.0,"e":1E5,"u":"\\u0041","dup":1,"dup":2}',
  '{"s":"a ] } [ { , \\" \\\\","t":"\\\\"}',
  '{"path":"/disk/Отчёты/апрель.xlsx","emoji":"👩‍💻🇷🇺","rtl":"שלום","nested":{"a":[1,[2,[3,{"b":"]"}]]]}}',
  '{ "spaced" : [ 1 , 2 ] , "x" : null }',
  '{"empty":{},"arr":[],"neg":-0.5e-7,"t":true,"f":false}',
]

t.test('each element is sliced byte for byte, with its depth', async (t) => {
  const body = `{"events":[${hard.join(',')}],"nextPageToken":"abc"}`
  const spans = recordSpans(body, 'events')
  t.same(spans?.map((s) => s.text), hard)
  t.same(spans?.map((s) => s.depth), [1, 1, 6, 2, 2])
  t.equal(JSON.parse(body).events.length, hard.length, 'the same count JSON.parse sees')
})

t.test('whitespace around elements, other keys before and after, nested arrays in other keys', async (t) => {
  const body = ` { "skip" : [[1,{"events":[9]}]] , "s":"\\"events\\"" ,\n "events" : [\n  ${hard[0]} ,\n\t${hard[1]}\n ] , "after": {"events":[]} }`
  t.same(recordSpans(body, 'events')?.map((s) => s.text), [hard[0], hard[1]])
})

t.test('the last occurrence of a duplicated key wins, as in JSON.parse', async (t) => {
  const body = '{"items":[{"a":1}],"iteration_key":null,"items":[{"b":2},{"c":3}]}'
  t.same(recordSpans(body, 'items')?.map((s) => s.text), ['{"b":2}', '{"c":3}'])
  t.same(JSON.parse(body).items, [{ b: 2 }, { c: 3 }])
  t.equal(recordSpans('{"items":[{"a":1}],"items":null}', 'items'), undefined, 'a last occurrence that is no array')
})

t.test('bodies that hold no such array', async (t) => {
  t.same(recordSpans('{"events":[]}', 'events'), [])
  t.same(recordSpans(' {"events" : [ ] } ', 'events'), [])
  t.equal(recordSpans('{}', 'events'), undefined)
  t.equal(recordSpans('[1,2]', 'events'), undefined)
  t.equal(recordSpans('{"other":[1]}', 'events'), undefined)
  t.equal(recordSpans('{"events":{"a":1}}', 'events'), undefined)
})

t.test('records 5,000 and 300,000 deep are walked without recursion (the stack of open containers grows)', async (t) => {
  for (const n of [5000, 300_000]) {
    const deep = `{"date":"2025-01-01T00:00:00Z","deep":${'['.repeat(n)}{"date":"inner"}${']'.repeat(n)}}`
    const spans = recordSpans(`{"events":[${deep},{"a":1}]}`, 'events', ['date'])
    t.same(spans?.map((s) => [s.text.length, s.depth, s.stamp]), [[deep.length, n + 2, '2025-01-01T00:00:00Z'], [7, 1, undefined]], `${n} deep`)
  }
  t.equal(recordSpans(`{"events":[${'['.repeat(300_000)}${']'.repeat(299_999)}]}`, 'events'), undefined, 'one bracket short: not JSON')
})

t.test('spans are byte offsets: Cyrillic and emoji before and inside a record; line breaks between tokens are flagged', async (t) => {
  const recs = ['{"name":"Петрова","e":"😀"}', '{\n "a": 1\r\n}', '{"s":"a\\nb"}', '"Ж"', '[\n]']
  const body = `{"note":"Входящие","events":[${recs.join(' ,\n ')}]}`
  const buf = Buffer.from(body, 'utf8')
  const spans = spansOf(buf, 'events') ?? []
  t.same(spans.map((s) => buf.subarray(s.start, s.end).toString('utf8')), recs, 'the bytes of each record')
  t.same(spans.map((s) => s.breaks), [false, true, false, false, true], 'a raw line break between tokens; an escaped one in a string is none')
  t.same(spans.map((s) => s.end - s.start), recs.map((r) => Buffer.byteLength(r)), 'lengths in bytes')
})

t.test('oneLine: only whitespace holding a line break is removed, strings untouched', async (t) => {
  t.equal(oneLine('{"a": 1}'), '{"a": 1}', 'no line break: unchanged, spacing kept')
  t.equal(oneLine('{\n  "a": "x y\\n",\r\n  "b": [1, 2]\n}'), '{"a":"x y\\n","b":[1,2]}')
})

t.test('strings of many lengths, with escaped quotes, backslash runs and Cyrillic at every place', async (t) => {
  const records: string[] = []
  const lengths = [...Array(41).keys(), ...Array.from({ length: 21 }, (_, i) => 120 + i), 250, 255, 256, 257, 300]
  for (const len of lengths) {
    for (const esc of ['"', '\\', '\\"', '\\\\"', 'ё']) {
      for (let at = 0; at <= len; at += len > 100 ? 3 : 7) records.push(JSON.stringify({ k: 'a'.repeat(at) + esc + 'b'.repeat(len - at), n: len }))
    }
  }
  const body = `{"events":[${records.join(',')}]}`
  const spans = recordSpans(body, 'events')
  t.equal(spans?.length, records.length, `${records.length} records`)
  t.same(spans?.map((s) => s.text), records, 'each sliced byte for byte')
  t.equal(recordSpans(`{"events":["${'a'.repeat(400)}\\"]}`, 'events'), undefined, 'a long string whose last quote is escaped is unterminated')
  t.equal(recordSpans(`{"events":["${'a'.repeat(10)}\\"]}`, 'events'), undefined, 'so is a short one')
})

t.test('the timestamp of each record, read from its bytes as JSON.parse reads it (last occurrence, escapes, non-strings)', async (t) => {
  const recs = [
    '{"date":"2026-06-10T11:00:00.123Z","x":1}',
    '{"x":{"date":"nested, not it"},"date":"B"}',
    '{"date":"first","date":"last"}',
    '{"date":"a string","date":5}',
    '{"d\\u0061te":"escaped key"}',
    '{"date":"\\u0032026-\\n"}',
    '{"dates":"no","dat":"no"}',
    '{"date":null}',
    '["date","not an object"]',
    '{"date":"Ж😀"}',
  ]
  const body = `{"events":[${recs.join(',')}]}`
  const want = recs.map((r) => {
    const v = JSON.parse(r) as unknown
    return Array.isArray(v) ? undefined : (v as { date?: unknown }).date
  })
  const got = recordSpans(body, 'events', ['date'])
  t.same(got?.map((r) => r.stamp), want.map((v) => (typeof v === 'string' ? v : undefined)))
  t.same(got?.map((r) => r.object), [true, true, true, true, true, true, true, true, false, true])
})

t.test('a timestamp two keys deep (events: event.occurred_at), each level last-wins', async (t) => {
  const recs = [
    '{"event":{"occurred_at":"A","type":"x"},"id":1}',
    '{"event":{"occurred_at":"A"},"event":{"type":"x"}}',
    '{"event":{"occurred_at":"A"},"event":7}',
    '{"event":[{"occurred_at":"A"}]}',
    '{"occurred_at":"top","event":{"inner":{"occurred_at":"deeper"}}}',
    '{"event":{"occurred_at":{"v":"A"}}}',
    '{"event":{"occurred_at":"A","occurred_at":"B"},"x":{"event":{"occurred_at":"C"}}}',
  ]
  const got = recordSpans(`{"items":[${recs.join(',')}],"iteration_key":"k"}`, 'items', ['event', 'occurred_at'])
  t.same(got?.map((r) => r.stamp), ['A', undefined, undefined, undefined, undefined, undefined, 'B'])
})

t.test("the rest of the body: every field but the records, for JSON.parse", async (t) => {
  const body = ' {"a":[1,{"events":2}],"events":[{"x":1}],"nextPageToken":"ё","events":[{"y":2},{"z":3}]} '
  const w = walkPage(Buffer.from(body, 'utf8'), 'events', [])
  t.equal(w?.rest, ' {"a":[1,{"events":2}],"events":[],"nextPageToken":"ё","events":[]} ')
  t.same(w?.records.length, 2)
})

t.test('exactly what JSON.parse accepts: hand-picked bodies', async (t) => {
  const wrap = (v: string): string => `{"events":[${v}]}`
  const cases = [
    ...['{"a":1,}', '[1,]', '{"a" 1}', '{a:1}', "{'a':1}", '01', '1.', '.5', '-', '+1', '1e', '1e+', '0x10', 'NaN', 'Infinity', 'tru', 'nul', 'falsey', '"\\x41"', '"\\u12"', '"\\u12g4"', '"a\tb"', '"a\nb"', '"\u0000"', '"\\', '{"a":1', '[1', '"open', '{"a":1}}', '1 2', '{"a":1 "b":2}', '//c\n1', '/*c*/1'].map(wrap),
    ...['-0', '-0.0e-0', '1E+2', '0.5', '"\\u00e9\\/\\b\\f\\n\\r\\t\\"\\\\"', '"\\ud800"', '"\u007f"', '[]', '{}', '[[],{}]', 'true', 'false', 'null', '" "'].map(wrap),
    '', ' ', '{"events":[]} x', '{"events":[]},', '\uFEFF{"events":[]}', '{"events":[]}\n\t\r ', '{"events":[],"n":01}', '{"events":[],"n":"\t"}', '{"events":[],}', '{,"events":[]}', '{"events":[]]',
  ]
  for (const body of cases) {
    let ok = true
    try {
      JSON.parse(body)
    } catch {
      ok = false
    }
    t.equal(walkPage(Buffer.from(body, 'utf8'), 'events', []) !== undefined, ok, `${JSON.stringify(body)}: ${ok ? 'accepted' : 'refused'} as JSON.parse does`)
  }
})

t.test('exactly what JSON.parse accepts: 20,000 bodies a byte or two away from valid pages', async (t) => {
  const rng = prng(14)
  const chars = ['{', '}', '[', ']', ',', ':', '"', '\\', 'u', '0', '1', '9', '-', '+', '.', 'e', 'E', ' ', '\n', '\t', 't', 'f', 'n', 'x', 'Ж', '\u0001', '/']
  const value = (depth: number): unknown => {
    const k = rng.int(depth > 3 ? 4 : 7)
    if (k === 0) return rng.pick(['', 'a"b', 'Ж\\', '\n', '2026-06-10T11:00:00Z', '\u2028'])
    if (k === 1) return rng.pick([0, -1, 1.5, 1e21, -2.5e-7, 12345678901234567890])
    if (k === 2) return rng.pick([true, false, null])
    if (k === 3) return rng.hex(rng.int(6))
    if (k === 4) return Array.from({ length: rng.int(4) }, () => value(depth + 1))
    return Object.fromEntries(Array.from({ length: rng.int(4) }, () => [rng.pick(['date', 'event', 'event', 'occurred_at', 'occurred_at', 'x', 'events', 'Ж']), value(depth + 1)]))
  }
  let accepted = 0
  let refused = 0
  let stamped = 0
  for (let n = 0; n < 20_000; n++) {
    const record = (): unknown => (rng.chance(0.3) ? value(0) : { x: value(2), event: rng.chance(0.8) ? { occurred_at: rng.chance(0.7) ? '2026-06-10T11:00:00Z' : value(3), y: value(3) } : value(2) })
    const records = Array.from({ length: 1 + rng.int(3) }, record)
    let body = JSON.stringify({ a: value(2), events: records, nextPageToken: rng.hex(4) }, null, rng.chance(0.2) ? 1 : undefined)
    for (let m = 1 + rng.int(2); m > 0; m--) {
      const at = rng.int(body.length + 1)
      const op = rng.int(3)
      body = body.slice(0, at) + (op === 2 ? '' : rng.pick(chars)) + body.slice(op === 0 ? at : at + 1)
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(body)
    } catch {
      parsed = undefined
    }
    const buf = Buffer.from(body, 'utf8')
    const w = walkPage(buf, 'events', ['event', 'occurred_at'])
    if (parsed === undefined) {
      refused++
      if (w !== undefined) t.fail(`accepted what JSON.parse refuses: ${JSON.stringify(body)}`)
      continue
    }
    const events = (parsed as { events?: unknown }).events
    if (!Array.isArray(events)) {
      if (w !== undefined) t.fail(`a records array where JSON.parse has none: ${JSON.stringify(body)}`)
      continue
    }
    accepted++
    if (w === undefined) {
      t.fail(`refused what JSON.parse accepts: ${JSON.stringify(body)}`)
      continue
    }
    const texts = w.records.map((r) => JSON.parse(spanText(buf, r)) as unknown)
    const stamps = texts.map((v) => {
      const at = isObject(v) && isObject(v.event) ? v.event.occurred_at : undefined
      return typeof at === 'string' ? at : undefined
    })
    const walkedStamps = w.records.map((r) => r.stamp)
    stamped += stamps.filter((x) => x !== undefined).length
    const rest = JSON.parse(w.rest) as Record<string, unknown>
    const same = JSON.stringify(texts) === JSON.stringify(events) && JSON.stringify(stamps) === JSON.stringify(walkedStamps) && JSON.stringify(rest) === JSON.stringify({ ...(parsed as object), events: [] })
    if (!same) t.fail(`another reading than JSON.parse's: ${JSON.stringify(body)}`)
  }
  t.ok(accepted > 2000 && refused > 2000 && stamped > 500, `both kinds met: ${accepted} accepted (${stamped} timestamps), ${refused} refused`)
})
