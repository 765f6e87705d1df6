// src/archive/lines.ts: the forward and backward line readers give every line of real files, split where the blocks
// fall, UTF-8 kept whole; a line over the bound is reported in its place and never buffered (a 5 MB line without a
// newline too); lineInstant tells records from damage.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { lineInstant, linesBackward, linesForward, MAX_LINE } from '../../src/archive/lines.js'
import { ENDPOINTS } from '../../src/sources/index.js'

async function forward(path: string, max?: number): Promise<{ text: string | undefined; n: number }[]> {
  const out = []
  for await (const l of linesForward(path, max)) out.push(l)
  return out
}

async function backward(path: string, max?: number, block?: number): Promise<{ text: string | undefined; offset: number; bytes: number }[]> {
  const fh = await open(path, 'r')
  try {
    const out = []
    for await (const l of linesBackward(fh, (await fh.stat()).size, max, block)) out.push(l)
    return out
  } finally {
    await fh.close()
  }
}

t.test('forward: every line in order with its number; a last line without newline is still a line', async (t) => {
  const dir = t.testdir({ a: 'один\n{"x":1}\n\nlast', b: '', c: 'x\n' })
  t.same(await forward(join(dir, 'a')), [{ text: 'один', n: 1 }, { text: '{"x":1}', n: 2 }, { text: '', n: 3 }, { text: 'last', n: 4 }])
  t.same(await forward(join(dir, 'b')), [])
  t.same(await forward(join(dir, 'c')), [{ text: 'x', n: 1 }])
})

// The bound is applied to what is buffered across reads (64 KB chunks): at the default 1 MB any longer line spans reads.
t.test('forward: a line over the bound ends the reading with text undefined at its number', async (t) => {
  const dir = t.testdir()
  writeFileSync(join(dir, 'f'), 'ok\n' + 'A'.repeat(2 * MAX_LINE) + '\nafter\n')
  t.same(await forward(join(dir, 'f')), [{ text: 'ok', n: 1 }, { text: undefined, n: 2 }])
  await t.rejects(forward(join(dir, 'missing')), { code: 'ENOENT' }, 'a missing file is an error, not an empty file')
})

t.test('forward: a 5 MB line without any newline is reported, not buffered', async (t) => {
  const dir = t.testdir()
  writeFileSync(join(dir, 'junk'), Buffer.alloc(5 * 1024 * 1024, 0x41))
  t.same(await forward(join(dir, 'junk')), [{ text: undefined, n: 1 }], `over the default bound of ${MAX_LINE} bytes`)
})

t.test('backward: every line from the end with its offset and byte length, whatever the block size', async (t) => {
  const text = 'один\n{"x":1}\n\nlast'
  const dir = t.testdir({ a: text })
  const want = [
    { text: 'last', offset: 18, bytes: 4 },
    { text: '{"x":1}', offset: 9, bytes: 7 },
    { text: 'один', offset: 0, bytes: 8 },
  ]
  t.equal(Buffer.byteLength(text), 22)
  for (const block of [1, 2, 3, 5, 64 * 1024]) t.same(await backward(join(dir, 'a'), MAX_LINE, block), want, `block ${block}: empty lines skipped, UTF-8 whole`)
})

// As forward, the bound applies to bytes carried across blocks (64 KB by default, smaller than the 1 MB bound).
t.test('backward: over-long lines are yielded without text, and the lines before them still come', async (t) => {
  const dir = t.testdir()
  const long = 'B'.repeat(300)
  writeFileSync(join(dir, 'f'), `first\n${long}\nlast\n`)
  for (const block of [7, 64, 99]) {
    t.same(await backward(join(dir, 'f'), 100, block), [
      { text: 'last', offset: 307, bytes: 4 },
      { text: undefined, offset: 6, bytes: 300 },
      { text: 'first', offset: 0, bytes: 5 },
    ], `block ${block}`)
  }
  writeFileSync(join(dir, 'g'), long)
  t.same(await backward(join(dir, 'g'), 100, 64), [{ text: undefined, offset: 0, bytes: 300 }], 'a whole file of one long line')
})

t.test('backward: a 5 MB line without newline is one over-long line, read in bounded blocks', async (t) => {
  const dir = t.testdir()
  const size = 5 * 1024 * 1024
  writeFileSync(join(dir, 'junk'), Buffer.concat([Buffer.from('{"a":1}\n'), Buffer.alloc(size, 0x41)]))
  t.same(await backward(join(dir, 'junk')), [{ text: undefined, offset: 8, bytes: size }, { text: '{"a":1}', offset: 0, bytes: 7 }])
})

t.test('lineInstant: a record with its instant; damage is undefined', async (t) => {
  const mail = ENDPOINTS.mail.timestamp
  t.same(lineInstant(mail, '{"date":"2025-04-23T04:59:35.118Z","uniqId":"1"}'), { us: Date.UTC(2025, 3, 23, 4, 59, 35, 118) * 1000, data: { date: '2025-04-23T04:59:35.118Z', uniqId: '1' } })
  for (const bad of [undefined, '', '{"date":', '[1,2]', '"s"', 'null', '{"uniqId":"1"}', '{"date":"yesterday"}']) t.equal(lineInstant(mail, bad), undefined, `rejects ${JSON.stringify(bad)}`)
})
