// Checkpoint: the archive is the cursor. Reads backwards from the end (never whole files), across day files,
// skips empty newest files, moves torn tails to `.torn`, skips (and counts) corrupt lines.
import t from 'tap'
import { open, readFile, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import pino from 'pino'
import { linesBackward } from '../../src/archive/lines.js'
import { repairTail } from '../../src/archive/tail.js'
import { canonicalKey, SourceStats } from '../../src/messages.js'
import { loadCheckpoint, type CheckpointOptions } from '../../src/pipeline/checkpoint.js'
import { pythonDumps } from '../../src/pipeline/format.js'
import { mail } from '../../src/sources/mail.js'
import { parseInstant } from '../../src/time.js'

const log = pino({ level: 'silent' })
const MIN = 60_000_000
const opts = (dir: string, stats = new SourceStats()): CheckpointOptions => ({ archive: { dir, base: 'mail_audit', ext: 'json' }, source: 'mail', instantOf: mail.timestamp, overlapUs: 2 * MIN, log, stats })

async function backward(path: string, blockSize: number): Promise<string[]> {
  const fh = await open(path, 'r')
  try {
    const out: string[] = []
    for await (const l of linesBackward(fh, (await fh.stat()).size, undefined, blockSize)) out.push(l.text as string)
    return out
  } finally {
    await fh.close()
  }
}

t.test('linesBackward: every block size, multi-byte UTF-8 split across blocks, offsets right', async (t) => {
  const dir = t.testdir()
  const lines = ['{"a":"Петрова Ольга"}', '', '{"b":"Отчёт за апрель 📎"}', 'x', '{"c":"архив"}']
  const path = join(dir, 'f.json')
  await writeFile(path, lines.join('\n') + '\n')
  const want = lines.filter((l) => l !== '').reverse()
  for (const bs of [1, 2, 3, 5, 7, 16, 64, 1 << 16]) t.same(await backward(path, bs), want, `block size ${bs}`)
  const fh = await open(path, 'r')
  const buf = await readFile(path)
  for await (const l of linesBackward(fh, buf.length, undefined, 4)) t.equal(buf.subarray(l.offset, l.offset + l.bytes).toString('utf8'), l.text, `offset of ${l.text}`)
  await fh.close()
  await writeFile(path, 'no newline at the end')
  t.same(await backward(path, 4), ['no newline at the end'], 'a last line without newline is yielded too')
})

const mailRec = (date: string, id: string): Record<string, unknown> => ({ eventType: 'message_seen', date, orgId: 1, userName: 'Петрова Ольга', uniqId: id })
const line = (r: Record<string, unknown>): string => JSON.stringify(r) + '\n'

t.test('resume point and seed from the newest non-empty file, crossing midnight into the previous day', async (t) => {
  const dir = t.testdir()
  const a = mailRec('2025-04-23T23:58:30.000Z', 'a') // 2.5 min before resume: outside the 2 m overlap
  const b = mailRec('2025-04-23T23:59:30.500Z', 'b') // inside, in the previous day's file
  const c = mailRec('2025-04-24T00:00:10.000Z', 'c')
  const d = mailRec('2025-04-24T00:01:00.000Z', 'd')
  // the previous day's file written Python-style (", " separators, another key order)
  const py = (r: Record<string, unknown>): string => pythonDumps(Object.fromEntries(Object.entries(r).reverse())) + '\n'
  await writeFile(join(dir, 'mail_audit_2025-04-23.json'), py(a) + py(b))
  await writeFile(join(dir, 'mail_audit_2025-04-24.json'), line(c) + line(d))
  await writeFile(join(dir, 'mail_audit_2025-04-25.json'), '') // empty newest file: skipped, as the Python script did
  await writeFile(join(dir, 'other_2025-04-26.json'), line(mailRec('2025-04-26T00:00:00Z', 'x'))) // not this archive
  const stats = new SourceStats()
  const cp = await loadCheckpoint(opts(dir, stats))
  t.equal(cp.resume, parseInstant(d.date))
  const seed = await cp.seed((cp.resume as number) - 2 * MIN)
  t.same([...seed.keys()].sort(), [b, c, d].map(canonicalKey).sort(), 'overlap keys, including the previous day, canonical whatever the spacing')
  t.equal(stats.corrupt, 0)
  t.equal(stats.repaired, 0)
})

t.test('torn tail moved to .torn and cut; a corrupt middle line is skipped and counted', async (t) => {
  const dir = t.testdir()
  const path = join(dir, 'mail_audit_2025-04-24.json')
  const r1 = mailRec('2025-04-24T10:00:00.000Z', '1')
  const r2 = mailRec('2025-04-24T10:00:30.000Z', '2')
  const good = line(r1) + 'garbage in the middle\n' + line(r2)
  const torn = '{"eventType":"message_seen","date":"2025-04-24T10:01:00.000Z","userName":"Пет'
  await writeFile(path, good + torn)
  const stats = new SourceStats()
  const cp = await loadCheckpoint(opts(dir, stats))
  t.equal(cp.resume, parseInstant(r2.date), 'resume from the last valid line, not the torn one')
  t.equal(await readFile(path, 'utf8'), good, 'file cut back to its last complete line')
  t.equal(await readFile(path + '.torn', 'utf8'), torn + '\n', 'the torn bytes kept in the sidecar')
  t.equal(stats.repaired, 1, 'one torn tail repaired')
  const seed = await cp.seed((cp.resume as number) - 2 * MIN)
  t.equal(stats.corrupt, 1, 'the corrupt middle line is counted')
  t.same([...seed.keys()].sort(), [r1, r2].map(canonicalKey).sort())
})

t.test('repairTail: a complete but unparsable last line is torn too; a good tail is left alone', async (t) => {
  const dir = t.testdir()
  const path = join(dir, 'x.json')
  const valid = (l: string): boolean => { try { JSON.parse(l); return true } catch (err) { return !(err instanceof SyntaxError) } }
  await writeFile(path, '{"a":1}\n{"b":\n')
  t.same(await repairTail(path, valid), { path, bytes: 6, sidecar: path + '.torn' })
  t.equal(await readFile(path, 'utf8'), '{"a":1}\n')
  t.equal(await repairTail(path, valid), undefined)
  t.equal(await readFile(path, 'utf8'), '{"a":1}\n')
  t.notOk(existsSync(join(dir, 'y.json.torn')))
})

t.test('empty archive: no resume point', async (t) => {
  const dir = t.testdir()
  const cp = await loadCheckpoint(opts(join(dir, 'missing')))
  t.equal(cp.resume, undefined)
  t.equal((await cp.seed(0)).size, 0)
})

t.test('a 20,000-line file: the seed holds exactly the records of the overlap', async (t) => {
  const dir = t.testdir()
  const start = Date.UTC(2025, 3, 24) * 1000
  const recs = Array.from({ length: 20_000 }, (_, i) => mailRec(new Date((start + i * 1_000_000) / 1000).toISOString(), String(i))) // 1 s apart
  await writeFile(join(dir, 'mail_audit_2025-04-24.json'), recs.map(line).join(''))
  const cp = await loadCheckpoint(opts(dir))
  t.equal((await cp.seed((cp.resume as number) - 2 * MIN)).size, 121, 'exactly the records of the last 2 minutes (inclusive)')
  t.equal(cp.resume, start + 19_999 * 1_000_000)
})
