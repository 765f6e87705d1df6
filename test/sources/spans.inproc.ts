// Record spans: each element of a page's records array is found as the exact text the API sent, whatever it holds
// (brackets and quotes inside strings, escapes, nesting, Cyrillic, emoji, big numbers, duplicate keys, spacing), so the
// archive keeps the API's bytes. Guards issue 12 point 5 (records were parsed and re-encoded).
import t from 'tap'
import { oneLine, recordSpans as spansOf, spanText, type Span } from '../../src/sources/spans.js'

/** The spans of a body given as text, each with its text decoded from the bytes. */
function recordSpans(body: string, key: string): (Span & { text: string })[] | undefined {
  const buf = Buffer.from(body, 'utf8')
  return spansOf(buf, key)?.map((s) => ({ ...s, text: spanText(buf, s) }))
}

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
  t.equal(recordSpans('[1,2]', 'events'), undefined)
  t.equal(recordSpans('{"other":[1]}', 'events'), undefined)
  t.equal(recordSpans('{"events":{"a":1}}', 'events'), undefined)
})

t.test('a record 5,000 deep is sliced without recursion', async (t) => {
  const deep = `{"date":"2025-01-01T00:00:00Z","deep":${'['.repeat(5000)}${']'.repeat(5000)}}`
  const spans = recordSpans(`{"events":[${deep},{"a":1}]}`, 'events')
  t.same(spans?.map((s) => [s.text.length, s.depth]), [[deep.length, 5001], [7, 1]])
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

t.test('strings of every length around the byte-by-byte limit, with escaped quotes and backslash runs at every place', async (t) => {
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
